package console

import (
	"context"
	"errors"
	"net/http"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tokens"
)

// Tokens (issue 13): the tenant page's Tokens section, the live Access Manager tokens
// pnonboard issued for the tenant (never a token itself), and revoking one of them.

const (
	tokensPerPage = 20
	// doneTokenRevoked is the tenant page's "done" value after a revoke.
	doneTokenRevoked = "token-revoked"
)

type tokensView struct {
	ExternalID string
	Rows       []tokens.Record
	User       string // the authorized-user filter, as typed
	Next       string // URL of the next (older) page, "" on the last
	First      string // URL of the first page, "" on it
	CanRevoke  bool
}

// tenantTokens lists a page of the tenant's live tokens, newest first, as GET
// /v1/tenants/{externalId}/tokens does (tenants:read, which the tenant page needs anyway).
func (c *Console) tenantTokens(ctx context.Context, u *user, req *tenantRequest) (*tokensView, error) {
	list, next, err := c.tokens.List(ctx, req.externalID, tokens.ListParams{
		Limit: tokensPerPage, AuthorizedUserID: req.tokenUser, Cursor: req.tokenCursor,
	})
	if err != nil {
		return nil, err
	}
	v := &tokensView{ExternalID: req.externalID, Rows: list, User: req.tokenUser, CanRevoke: u.Can(auth.ScopeTokensWrite)}
	kv := []string{"token_user", req.tokenUser}
	if next != "" {
		v.Next = withQuery(consolePath("tenants", req.externalID), append(kv, "tokens", next)...) + "#tokens"
	}
	if req.tokenCursor != "" {
		v.First = withQuery(consolePath("tenants", req.externalID), kv...) + "#tokens"
	}
	return v, nil
}

// --- Revoking a token: a confirm page, then the POST

type revokeTokenRequest struct {
	externalID, tokenID string
}

func (r *revokeTokenRequest) extract(p *params) {
	r.externalID = p.path("externalId")
	r.tokenID = p.path("tokenId")
}

func (c *Console) confirmRevokeToken(ctx context.Context, u *user, req *revokeTokenRequest) (*page, error) {
	if !tokens.ValidID(req.tokenID) {
		return nil, tokens.ErrTokenNotFound
	}
	t, err := c.subject(ctx, u, req.externalID)
	if err != nil {
		return nil, err
	}
	return c.revokeTokenPage(t, req.tokenID, "", 0), nil
}

func (c *Console) revokeTokenPage(t *tenants.Tenant, tokenID, problem string, status int) *page {
	subject, cancel := "Token "+tokenID+" of "+t.ExternalID, Prefix+"/"
	if t.Name != "" {
		subject, cancel = "Token "+tokenID+" of "+t.Name+" ("+t.ExternalID+")", consolePath("tenants", t.ExternalID)+"#tokens"
	}
	return &page{name: "confirm", title: "Revoke token " + tokenID, nav: "tenants", status: status, data: confirmView{
		Heading: "Revoke this token?", Subject: subject,
		Explain: "Asks PubNub Access Manager to revoke the token now: the client holding it can do nothing more with it, and must be granted a new one. " +
			"The revocation is recorded on the token and on the tenant's timeline (token_revoked, never the token). It cannot be undone.",
		Error: problem, Button: "Revoke", Danger: true,
		Action: consolePath("tenants", t.ExternalID, "tokens", tokenID, "revoke"), Cancel: cancel,
	}}
}

func (c *Console) revokeToken(ctx context.Context, u *user, req *revokeTokenRequest) (*page, error) {
	if !tokens.ValidID(req.tokenID) {
		return nil, tokens.ErrTokenNotFound
	}
	actor := auth.ActorFrom(ctx)
	err := c.tokens.Revoke(ctx, req.externalID, req.tokenID, actor.String())
	var (
		notRevocable *tokens.NotRevocableError
		upstream     *tokens.UpstreamError
	)
	if errors.As(err, &notRevocable) || errors.As(err, &upstream) {
		// PubNub cannot, or did not, revoke it: say so on the confirm page, to try again.
		t, getErr := c.subject(ctx, u, req.externalID)
		if getErr != nil {
			return nil, getErr
		}
		status, msg, _ := describe(err)
		return c.revokeTokenPage(t, req.tokenID, msg, status), nil
	}
	if err != nil {
		return nil, err
	}
	c.logAction(ctx, "revoke-token", "external_id", req.externalID, "token_id", req.tokenID, "actor", actor.String())
	return &page{redirect: withQuery(consolePath("tenants", req.externalID), "done", doneTokenRevoked) + "#tokens"}, nil
}

// tokenRoutes are the revoke routes (tokens:write), when the console has the token service.
func (c *Console) tokenRoutes(mux *http.ServeMux) {
	if c.tokens == nil {
		return
	}
	path := Prefix + "/tenants/{externalId}/tokens/{tokenId}/revoke"
	mux.Handle("GET "+path, c.guard(auth.ScopeTokensWrite, handle(c, c.confirmRevokeToken)))
	mux.Handle("POST "+path, c.guard(auth.ScopeTokensWrite, handle(c, c.revokeToken)))
}

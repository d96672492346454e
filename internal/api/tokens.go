package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tokens"
)

// The Access Manager token endpoints (internal/tokens): grant, list, revoke, parse.

// Limits of the token endpoints.
const (
	// maxAuthorizedUserID is the longest user ID PubNub takes (its documented uuid limit).
	maxAuthorizedUserID = 92
	// maxTokenChars is the longest token the endpoints take, in a path or a body: far above
	// real tokens (a few hundred characters), and within the body limit.
	maxTokenChars = 32 << 10
)

// tokenPermissionsJSON is permission words per name (or pattern), per resource type.
type tokenPermissionsJSON struct {
	Channels      map[string][]string `json:"channels"`
	ChannelGroups map[string][]string `json:"channelGroups"`
	UserIDs       map[string][]string `json:"userIds"`
}

func (p *tokenPermissionsJSON) words() accessmanager.ResourceWords {
	if p == nil {
		return accessmanager.ResourceWords{}
	}
	return accessmanager.ResourceWords{Channels: p.Channels, Groups: p.ChannelGroups, UUIDs: p.UserIDs}
}

type grantTokenRequest struct {
	externalIDParam
	Body struct {
		Environment      string                `json:"environment"`
		TTL              *int                  `json:"ttl"`
		AuthorizedUserID *string               `json:"authorizedUserId"`
		Channels         map[string][]string   `json:"channels"`
		ChannelGroups    map[string][]string   `json:"channelGroups"`
		UserIDs          map[string][]string   `json:"userIds"`
		Patterns         *tokenPermissionsJSON `json:"patterns"`
		Meta             map[string]any        `json:"meta"`
	}
}

func (r *grantTokenRequest) body() (any, bool) { return &r.Body, false }

// validate checks the body's shape: an environment and a ttl given, an authorized user ID
// that is text of PubNub's length. Access Manager's rules (permission words, the ttl range,
// at least one resource, RE2 patterns, scalar meta) are accessmanager's: grantToken gets its
// *accessmanager.ValidationError, which the error table answers.
func (r *grantTokenRequest) validate() map[string]string {
	b := &r.Body
	errs := map[string]string{}
	switch {
	case blank(b.Environment):
		errs["environment"] = "is required"
	case textLen(b.Environment) > 64:
		errs["environment"] = "must be at most 64 characters"
	}
	if b.TTL == nil {
		errs["ttl"] = fmt.Sprintf("is required: minutes, from %d to %d (30 days)", accessmanager.MinTTL, accessmanager.MaxTTL)
	}
	if b.AuthorizedUserID != nil {
		switch user := *b.AuthorizedUserID; {
		case blank(user):
			errs["authorizedUserId"] = msgBlank
		case textLen(user) > maxAuthorizedUserID:
			errs["authorizedUserId"] = fmt.Sprintf("must be at most %d characters", maxAuthorizedUserID)
		}
	}
	return errs
}

// grantWords is the body as Access Manager's request, permissions still as words.
func (r *grantTokenRequest) grantWords() accessmanager.GrantWords {
	b := &r.Body
	w := accessmanager.GrantWords{TTL: *b.TTL, Meta: b.Meta, Patterns: b.Patterns.words(),
		Resources: accessmanager.ResourceWords{Channels: b.Channels, Groups: b.ChannelGroups, UUIDs: b.UserIDs}}
	if b.AuthorizedUserID != nil {
		w.AuthorizedUserID = *b.AuthorizedUserID
	}
	return w
}

// tokenResourcesJSON is a token's resources or patterns as permission words. Users and spaces
// are PubNub's deprecated types: only a parsed token of another issuer may have them.
type tokenResourcesJSON struct {
	Channels      map[string][]string `json:"channels"`
	ChannelGroups map[string][]string `json:"channelGroups"`
	UserIDs       map[string][]string `json:"userIds"`
	Users         map[string][]string `json:"users,omitempty"`
	Spaces        map[string][]string `json:"spaces,omitempty"`
}

func resourcesJSON(r accessmanager.TokenResources) tokenResourcesJSON {
	w := r.Words()
	out := tokenResourcesJSON{Channels: w.Channels, ChannelGroups: w.Groups, UserIDs: w.UUIDs}
	deprecated := accessmanager.Resources{Channels: r.Users, Groups: r.Spaces}.Words()
	if len(r.Users) > 0 {
		out.Users = deprecated.Channels
	}
	if len(r.Spaces) > 0 {
		out.Spaces = deprecated.Groups
	}
	return out
}

// parsedTokenJSON is what a token says: the parse answer, and most of the grant answer.
type parsedTokenJSON struct {
	IssuedAt         time.Time          `json:"issuedAt"`
	ExpiresAt        time.Time          `json:"expiresAt"`
	TTL              int                `json:"ttl"`
	AuthorizedUserID *string            `json:"authorizedUserId"`
	Resources        tokenResourcesJSON `json:"resources"`
	Patterns         tokenResourcesJSON `json:"patterns"`
	Meta             map[string]any     `json:"meta"`
}

func parsedJSON(t *accessmanager.Token) parsedTokenJSON {
	out := parsedTokenJSON{
		IssuedAt: t.IssuedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(), TTL: t.TTL,
		Resources: resourcesJSON(t.Resources), Patterns: resourcesJSON(t.Patterns), Meta: t.Meta,
	}
	if t.AuthorizedUserID != "" {
		out.AuthorizedUserID = &t.AuthorizedUserID
	}
	return out
}

type grantTokenResponse struct {
	ID          string `json:"id"`
	Token       string `json:"token"`
	Environment string `json:"environment"`
	parsedTokenJSON
}

func (grantTokenResponse) statusCode() int { return http.StatusCreated }

// The token is a credential: no cache may keep it.
func (grantTokenResponse) setHeaders(h http.Header) { h.Set("Cache-Control", "no-store") }

// grantToken grants a token on the tenant's environment keyset (201), signed by pnonboard with
// the keyset's secret key.
func (s *Server) grantToken(ctx context.Context, req *grantTokenRequest) (grantTokenResponse, error) {
	grant, err := req.grantWords().Request()
	if err != nil {
		return grantTokenResponse{}, err
	}
	issued, err := s.tokens.Grant(ctx, req.externalID, req.Body.Environment, grant, auth.ActorFrom(ctx).String())
	if err != nil {
		return grantTokenResponse{}, err
	}
	return grantTokenResponse{ID: issued.ID, Token: issued.Token, Environment: issued.Environment, parsedTokenJSON: parsedJSON(issued.Parsed)}, nil
}

type revokeTokenRequest struct {
	externalIDParam
	ref string // a token ID or the token itself
}

func (r *revokeTokenRequest) extract(p *params) {
	r.externalIDParam.extract(p)
	r.ref = p.pathMax("token", maxTokenChars)
}

// revokeToken revokes a token pnonboard issued for the tenant, named by its ID or by itself:
// 204, also when it was already revoked or has expired.
func (s *Server) revokeToken(ctx context.Context, req *revokeTokenRequest) (noContent, error) {
	if err := s.tokens.Revoke(ctx, req.externalID, req.ref, auth.ActorFrom(ctx).String()); err != nil {
		return noContent{}, err
	}
	return noContent{}, nil
}

type listTokensRequest struct {
	externalIDParam
	params tokens.ListParams
}

func (r *listTokensRequest) extract(p *params) {
	r.externalIDParam.extract(p)
	r.params = tokens.ListParams{
		Limit:            p.limit(50, 200),
		Environment:      p.text("environment", 64),
		AuthorizedUserID: p.text("authorizedUserId", maxAuthorizedUserID),
		Cursor:           p.text("cursor", maxCursorLen),
	}
}

type tokenRecordJSON struct {
	ID               string     `json:"id"`
	Environment      string     `json:"environment"`
	AuthorizedUserID *string    `json:"authorizedUserId"`
	IssuedAt         time.Time  `json:"issuedAt"`
	ExpiresAt        time.Time  `json:"expiresAt"`
	TTL              int        `json:"ttl"`
	RevokedAt        *time.Time `json:"revokedAt"`
}

type listTokensResponse struct {
	Data       []tokenRecordJSON `json:"data"`
	NextCursor *string           `json:"nextCursor"`
}

// listTokens lists the tenant's tokens that have not expired, newest first; never the tokens.
func (s *Server) listTokens(ctx context.Context, req *listTokensRequest) (listTokensResponse, error) {
	list, next, err := s.tokens.List(ctx, req.externalID, req.params)
	if err != nil {
		return listTokensResponse{}, err
	}
	out := listTokensResponse{Data: make([]tokenRecordJSON, len(list))}
	for i, r := range list {
		out.Data[i] = tokenRecordJSON{ID: r.ID, Environment: r.Environment, IssuedAt: r.IssuedAt.UTC(),
			ExpiresAt: r.ExpiresAt.UTC(), TTL: r.TTL, RevokedAt: utcPtr(r.RevokedAt)}
		if r.AuthorizedUserID != "" {
			out.Data[i].AuthorizedUserID = &r.AuthorizedUserID
		}
	}
	if next != "" {
		out.NextCursor = &next
	}
	return out, nil
}

type parseTokenRequest struct {
	Body struct {
		Token string `json:"token"`
	}
}

func (r *parseTokenRequest) body() (any, bool) { return &r.Body, false }

func (r *parseTokenRequest) validate() map[string]string {
	switch {
	case r.Body.Token == "":
		return map[string]string{"token": "is required"}
	case textLen(r.Body.Token) > maxTokenChars:
		return map[string]string{"token": fmt.Sprintf("must be at most %d characters", maxTokenChars)}
	}
	return nil
}

type parseTokenResponse struct {
	Version int `json:"version"`
	parsedTokenJSON
}

// parseToken decodes any Access Manager v3 token locally: what it grants, to whom, until when.
// It cannot tell whether PubNub issued it, or whether it was revoked.
func (s *Server) parseToken(_ context.Context, req *parseTokenRequest) (parseTokenResponse, error) {
	t, err := tokens.Parse(req.Body.Token)
	if malformed, ok := errors.AsType[*accessmanager.MalformedTokenError](err); ok {
		return parseTokenResponse{}, validationError(map[string]string{"token": "is not an Access Manager v3 token: " + malformed.Reason})
	}
	if err != nil {
		return parseTokenResponse{}, err
	}
	return parseTokenResponse{Version: t.Version, parsedTokenJSON: parsedJSON(t)}, nil
}

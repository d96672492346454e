package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
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

func (p *tokenPermissionsJSON) names() int {
	if p == nil {
		return 0
	}
	return len(p.Channels) + len(p.ChannelGroups) + len(p.UserIDs)
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
	grant accessmanager.GrantRequest // built by validate
}

func (r *grantTokenRequest) body() (any, bool) { return &r.Body, false }

// validate checks the body's shape and builds the grant: permission words per resource type,
// ttl 1 to 43,200, at least one resource or pattern, RE2 patterns, scalar meta (the rules of
// accessmanager.GrantRequest.Validate, with its field names).
func (r *grantTokenRequest) validate() map[string]string {
	b := &r.Body
	errs := map[string]string{}
	switch {
	case blank(b.Environment):
		errs["environment"] = "is required"
	case textLen(b.Environment) > 64:
		errs["environment"] = "must be at most 64 characters"
	}
	ttl := 0
	if b.TTL == nil {
		errs["ttl"] = fmt.Sprintf("is required: minutes, from %d to %d (30 days)", accessmanager.MinTTL, accessmanager.MaxTTL)
	} else {
		ttl = *b.TTL
	}
	user := ""
	if b.AuthorizedUserID != nil {
		user = *b.AuthorizedUserID
		switch {
		case blank(user):
			errs["authorizedUserId"] = msgBlank
		case textLen(user) > maxAuthorizedUserID:
			errs["authorizedUserId"] = fmt.Sprintf("must be at most %d characters", maxAuthorizedUserID)
		}
	}
	top := &tokenPermissionsJSON{Channels: b.Channels, ChannelGroups: b.ChannelGroups, UserIDs: b.UserIDs}
	resources, resErrs := accessmanager.ParseResources("", top.words())
	patterns, patErrs := accessmanager.ParseResources("patterns.", b.Patterns.words())
	for _, fe := range append(resErrs, patErrs...) {
		errs[fe.Field] = fe.Message
	}
	r.grant = accessmanager.GrantRequest{TTL: ttl, AuthorizedUserID: user, Resources: resources, Patterns: patterns, Meta: b.Meta}
	named := top.names()+b.Patterns.names() > 0
	for _, fe := range r.grant.Validate() {
		switch {
		case fe.Field == "ttl" && b.TTL == nil:
		case fe.Field == "resources" && named: // every name given was refused above
		default:
			if _, ok := errs[fe.Field]; !ok {
				errs[fe.Field] = fe.Message
			}
		}
	}
	return errs
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
	issued, err := s.tokens.Grant(ctx, req.externalID, req.Body.Environment, req.grant, auth.ActorFrom(ctx).String())
	if err != nil {
		return grantTokenResponse{}, tokenProblem(err)
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
		return noContent{}, tokenProblem(err)
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
		return listTokensResponse{}, tokenProblem(err)
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
	if err != nil {
		msg := err.Error()
		if _, why, ok := strings.Cut(msg, accessmanager.ErrMalformedToken.Error()+": "); ok {
			msg = why
		}
		return parseTokenResponse{}, validationError(map[string]string{"token": "is not an Access Manager v3 token: " + msg})
	}
	return parseTokenResponse{Version: t.Version, parsedTokenJSON: parsedJSON(t)}, nil
}

// tokenProblem maps the token service's errors to problems; anything else (tenants.ErrNotFound,
// a *tenants.StateError, a bad cursor) goes on to the shared table.
func tokenProblem(err error) error {
	var (
		verr *accessmanager.ValidationError
		eerr *tokens.EnvironmentError
		aerr *tokens.AccessManagerOffError
		nerr *tokens.NotRevocableError
		uerr *tokens.UpstreamError
	)
	switch {
	case errors.As(err, &verr):
		fields := map[string]string{}
		for _, f := range verr.Fields {
			fields[f.Field] = f.Message
		}
		return validationError(fields)
	case errors.As(err, &eerr):
		return validationError(map[string]string{"environment": fmt.Sprintf("the tenant has no environment %q; it has %s",
			eerr.Environment, strings.Join(eerr.Known, ", "))})
	case errors.As(err, &aerr):
		return &Error{Status: http.StatusConflict, Code: "access_manager_off", Cause: err,
			Detail: fmt.Sprintf("the tenant's %s keyset has Access Manager off, so its clients need no token: they connect with the publish and subscribe keys alone", aerr.Environment),
			Extra:  map[string]any{"environment": aerr.Environment}}
	case errors.As(err, &nerr):
		return &Error{Status: http.StatusConflict, Code: "token_not_revocable", Cause: err, Detail: nerr.Error(),
			Extra: map[string]any{"reason": nerr.Reason}}
	case errors.Is(err, tokens.ErrTokenNotFound):
		return &Error{Status: http.StatusNotFound, Code: "token_not_found", Cause: err,
			Detail: "pnonboard issued no live token with this ID or value for this tenant"}
	case errors.As(err, &uerr):
		return upstreamProblem(uerr)
	}
	return err
}

// upstreamProblem says what Access Manager answered: a 403 with PubNub's message, a 400 naming
// the fields PubNub refused, a 502 for another refusal, a 503 when it did not answer.
func upstreamProblem(e *tokens.UpstreamError) *Error {
	extra := map[string]any{"upstreamStatus": e.Status()}
	switch status := e.Status(); {
	case status == http.StatusForbidden:
		return &Error{Status: http.StatusForbidden, Code: "upstream_forbidden", Cause: e, Extra: extra,
			Detail: "PubNub Access Manager refused the " + e.Op + ": " + e.Message()}
	case status == http.StatusBadRequest:
		fields := e.Fields()
		errs := make([]FieldError, 0, len(fields))
		for _, f := range slices.Sorted(maps.Keys(fields)) {
			errs = append(errs, FieldError{Field: f, Message: fields[f]})
		}
		return &Error{Status: http.StatusBadRequest, Code: "upstream_invalid", Cause: e, Extra: extra, Errors: errs,
			Detail: "PubNub Access Manager refused the " + e.Op + ": " + e.Message()}
	case e.Refused():
		return &Error{Status: http.StatusBadGateway, Code: "upstream_refused", Cause: e, Extra: extra,
			Detail: fmt.Sprintf("PubNub Access Manager refused the %s with %d: %s", e.Op, status, e.Message())}
	}
	delete(extra, "upstreamStatus")
	if s := e.Status(); s != 0 {
		extra["upstreamStatus"] = s
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: "upstream_unavailable", Cause: e, Extra: extra,
		Detail: fmt.Sprintf("PubNub Access Manager did not complete the %s after %d attempts; try again", e.Op, e.Attempts)}
}

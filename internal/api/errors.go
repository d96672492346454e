package api

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tokens"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// translation turns one kind of domain error into what the caller sees, or reports that err
// is not of its kind.
type translation func(err error) (*Error, bool)

// sentinel maps errors.Is(err, target) to a fixed problem. The detail is fixed text: an
// error's own message may grow context (wrapping) that must not reach the wire.
func sentinel(target error, status int, code, detail string) translation {
	return func(err error) (*Error, bool) {
		if !errors.Is(err, target) {
			return nil, false
		}
		return &Error{Status: status, Code: code, Detail: detail, Cause: err}, true
	}
}

// fieldSentinel maps errors.Is(err, target) to a 422 naming field.
func fieldSentinel(target error, field, message string) translation {
	return func(err error) (*Error, bool) {
		if !errors.Is(err, target) {
			return nil, false
		}
		e := validationError(map[string]string{field: message})
		e.Cause = err
		return e, true
	}
}

// errorTable is the one place domain errors become HTTP problems, tried in order. Errors no
// row takes (and not already an *Error) are internal: logged, and answered with a bare 500.
func errorTable() []translation {
	return []translation{
		fieldErrors,
		fieldSentinel(invalid.ErrCursor, "cursor", "is not a cursor from this listing"),
		sentinel(auth.ErrNotFound, http.StatusNotFound, "api_key_not_found", "no API key has this ID"),
		sentinel(tenants.ErrNotFound, http.StatusNotFound, "tenant_not_found", "no tenant has this externalId"),
		sentinel(webhooks.ErrEndpointNotFound, http.StatusNotFound, "webhook_endpoint_not_found", "no webhook endpoint has this ID"),
		sentinel(webhooks.ErrDeliveryNotFound, http.StatusNotFound, "webhook_delivery_not_found", "this endpoint has no delivery with this ID"),
		sentinel(tokens.ErrTokenNotFound, http.StatusNotFound, "token_not_found", "pnonboard issued no live token with this ID or value for this tenant"),
		stateConflict,
		tenantConflict,
		grantRefused,
		accessManagerOff,
		notRevocable,
		upstreamProblem,
	}
}

// fieldErrors is every domain error that names the fields at fault (invalid.Fielder: an
// *invalid.Error, an *accessmanager.ValidationError, a *tokens.EnvironmentError): a 422
// listing them.
func fieldErrors(err error) (*Error, bool) {
	fields, ok := invalid.FieldsOf(err)
	if !ok {
		return nil, false
	}
	e := validationError(fields)
	e.Cause = err
	return e, true
}

// stateConflict is an action the tenant's state does not allow.
func stateConflict(err error) (*Error, bool) {
	var serr *tenants.StateError
	if !errors.As(err, &serr) {
		return nil, false
	}
	detail := fmt.Sprintf("cannot %s the tenant: it is %s", serr.Action, serr.Current)
	if serr.Reason != "" {
		detail += " and " + serr.Reason
	}
	allowed := serr.Allowed
	if allowed == nil {
		allowed = []tenants.State{} // no state allows it as the tenant is now (the reason says why)
	}
	return &Error{Status: http.StatusConflict, Code: "invalid_state", Cause: err, Detail: detail,
		Extra: map[string]any{"currentState": serr.Current, "allowedFrom": allowed}}, true
}

// tenantConflict is a create that reuses an externalId with another body.
func tenantConflict(err error) (*Error, bool) {
	var cerr *tenants.ConflictError
	if !errors.As(err, &cerr) {
		return nil, false
	}
	return &Error{Status: http.StatusConflict, Code: "tenant_conflict", Cause: err,
		Detail: fmt.Sprintf("a tenant with this externalId exists with a different %s; a create is a safe replay only with the same body",
			strings.Join(cerr.Fields, " and ")),
		Extra: map[string]any{"conflictingFields": cerr.Fields}}, true
}

// grantRefused is a key asked to grant scopes it does not hold.
func grantRefused(err error) (*Error, bool) {
	var grant *auth.GrantError
	if !errors.As(err, &grant) {
		return nil, false
	}
	missing := make([]string, len(grant.Missing))
	for i, sc := range grant.Missing {
		missing[i] = string(sc)
	}
	return &Error{Status: http.StatusForbidden, Code: "cannot_grant_scope", Cause: err,
		Detail: "an API key can grant only scopes it holds itself; this one lacks " + strings.Join(missing, ", "),
		Extra:  map[string]any{"missingScopes": missing}}, true
}

// accessManagerOff is a grant on a keyset that needs no token.
func accessManagerOff(err error) (*Error, bool) {
	var aerr *tokens.AccessManagerOffError
	if !errors.As(err, &aerr) {
		return nil, false
	}
	return &Error{Status: http.StatusConflict, Code: "access_manager_off", Cause: err,
		Detail: fmt.Sprintf("the tenant's %s keyset has Access Manager off, so its clients need no token: they connect with the publish and subscribe keys alone", aerr.Environment),
		Extra:  map[string]any{"environment": aerr.Environment}}, true
}

// notRevocable is a revocation PubNub cannot make: token revoke off, or a TTL over 30 days.
func notRevocable(err error) (*Error, bool) {
	var nerr *tokens.NotRevocableError
	if !errors.As(err, &nerr) {
		return nil, false
	}
	return &Error{Status: http.StatusConflict, Code: "token_not_revocable", Cause: err, Detail: nerr.Error(),
		Extra: map[string]any{"reason": nerr.Reason}}, true
}

// upstreamProblem says what Access Manager answered: a 403 with PubNub's message, a 400 naming
// the fields PubNub refused, a 502 for another refusal, a 503 when it did not answer (or asked
// to be called later: a 429 is not retried here, the caller tries again).
func upstreamProblem(err error) (*Error, bool) {
	var e *tokens.UpstreamError
	if !errors.As(err, &e) {
		return nil, false
	}
	status := e.Status()
	extra := map[string]any{} // upstreamStatus only when Access Manager answered
	if status != 0 {
		extra["upstreamStatus"] = status
	}
	switch {
	case status == http.StatusForbidden:
		return &Error{Status: http.StatusForbidden, Code: "upstream_forbidden", Cause: err, Extra: extra,
			Detail: "PubNub Access Manager refused the " + e.Op + ": " + e.Message()}, true
	case status == http.StatusBadRequest:
		fields := e.Fields()
		errs := make([]FieldError, 0, len(fields))
		for _, f := range slices.Sorted(maps.Keys(fields)) {
			errs = append(errs, FieldError{Field: f, Message: fields[f]})
		}
		return &Error{Status: http.StatusBadRequest, Code: "upstream_invalid", Cause: err, Extra: extra, Errors: errs,
			Detail: "PubNub Access Manager refused the " + e.Op + ": " + e.Message()}, true
	case e.Refused():
		return &Error{Status: http.StatusBadGateway, Code: "upstream_refused", Cause: err, Extra: extra,
			Detail: fmt.Sprintf("PubNub Access Manager refused the %s with %d: %s", e.Op, status, e.Message())}, true
	}
	if status == http.StatusTooManyRequests {
		return &Error{Status: http.StatusServiceUnavailable, Code: "upstream_unavailable", Cause: err, Extra: extra,
			Detail: fmt.Sprintf("PubNub Access Manager is limiting the rate of calls (429) and did not complete the %s; try again shortly", e.Op)}, true
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: "upstream_unavailable", Cause: err, Extra: extra,
		Detail: fmt.Sprintf("PubNub Access Manager did not complete the %s after %d attempts; try again", e.Op, e.Attempts)}, true
}

// mapError translates domain errors; an *Error passes through unchanged.
func (s *Server) mapError(err error) error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return err
	}
	for _, translate := range errorTable() {
		if e, ok := translate(err); ok {
			return e
		}
	}
	return err
}

package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// errorMapping turns a domain sentinel into what the caller sees. The detail is fixed text:
// an error's own message may grow context (wrapping) that must not reach the wire.
type errorMapping struct {
	target error
	status int
	code   string
	detail string
}

// errorTable is the one place domain errors become HTTP statuses. Errors not listed (and not
// already an *Error) are internal: logged, and answered with a bare 500.
func errorTable() []errorMapping {
	return []errorMapping{
		{auth.ErrNotFound, http.StatusNotFound, "api_key_not_found", "no API key has this ID"},
		{tenants.ErrNotFound, http.StatusNotFound, "tenant_not_found", "no tenant has this externalId"},
		{webhooks.ErrEndpointNotFound, http.StatusNotFound, "webhook_endpoint_not_found", "no webhook endpoint has this ID"},
		{webhooks.ErrDeliveryNotFound, http.StatusNotFound, "webhook_delivery_not_found", "this endpoint has no delivery with this ID"},
	}
}

// mapError translates domain errors; an *Error passes through unchanged.
func (s *Server) mapError(err error) error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return err
	}
	var inv *auth.InvalidError
	if errors.As(err, &inv) {
		return validationError(map[string]string{inv.Field: inv.Message})
	}
	var grant *auth.GrantError
	if errors.As(err, &grant) {
		missing := make([]string, len(grant.Missing))
		for i, sc := range grant.Missing {
			missing[i] = string(sc)
		}
		return &Error{Status: http.StatusForbidden, Code: "cannot_grant_scope", Cause: err,
			Detail: "an API key can grant only scopes it holds itself; this one lacks " + strings.Join(missing, ", "),
			Extra:  map[string]any{"missingScopes": missing}}
	}
	if e, ok := tenantError(err); ok {
		return e
	}
	if e, ok := webhookError(err); ok {
		return e
	}
	for _, m := range errorTable() {
		if errors.Is(err, m.target) {
			return &Error{Status: m.status, Code: m.code, Detail: m.detail, Cause: err}
		}
	}
	return err
}

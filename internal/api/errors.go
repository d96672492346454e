package api

import (
	"errors"
	"net/http"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

// errorMapping turns a domain sentinel into what the caller sees.
type errorMapping struct {
	target error
	status int
	code   string
}

// errorTable is the one place domain errors become HTTP statuses. Errors not listed (and not
// already an *Error) are internal: logged, and answered with a bare 500.
func errorTable() []errorMapping {
	return []errorMapping{
		{auth.ErrNotFound, http.StatusNotFound, "api_key_not_found"},
		{tenants.ErrNotFound, http.StatusNotFound, "tenant_not_found"},
		{webhooks.ErrEndpointNotFound, http.StatusNotFound, "webhook_endpoint_not_found"},
		{webhooks.ErrDeliveryNotFound, http.StatusNotFound, "webhook_delivery_not_found"},
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
	if e, ok := tenantError(err); ok {
		return e
	}
	if e, ok := webhookError(err); ok {
		return e
	}
	for _, m := range errorTable() {
		if errors.Is(err, m.target) {
			return &Error{Status: m.status, Code: m.code, Detail: err.Error(), Cause: err}
		}
	}
	return err
}

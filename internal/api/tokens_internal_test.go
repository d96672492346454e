package api

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/tokens"
)

// TestGrantTokenValidateIsShapeOnly: the validator checks the body's shape and changes
// nothing; Access Manager's rules are accessmanager's, whose error the table answers.
func TestGrantTokenValidateIsShapeOnly(t *testing.T) {
	t.Parallel()
	ttl := 43_201 // over Access Manager's range: not a shape fault
	var r grantTokenRequest
	r.Body.Environment, r.Body.TTL = "staging", &ttl
	r.Body.Channels = map[string][]string{"room-1": {"fly"}}
	r.Body.Meta = map[string]any{"a": []any{1}}
	before := r.Body
	require.Empty(t, r.validate(), "words, ttl range and meta are not the validator's")
	require.Equal(t, before, r.Body, "validate changes nothing")

	_, err := r.grantWords().Request()
	p := mapped(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Equal(t, []string{"channels.room-1", "meta.a", "ttl"}, fieldNames(p))

	r.Body.Environment, r.Body.TTL = " ", nil
	require.Equal(t, []string{"environment", "ttl"}, slices.Sorted(maps.Keys(r.validate())))
}

// TestTokenErrorRows: the token service's errors are rows of the one table, like every
// domain's: nothing maps them on the side.
func TestTokenErrorRows(t *testing.T) {
	t.Parallel()
	p := mapped(t, fmt.Errorf("revoke: %w", tokens.ErrTokenNotFound))
	require.Equal(t, http.StatusNotFound, p.Status)
	require.Equal(t, "token_not_found", p.Code)
	require.Equal(t, "pnonboard issued no live token with this ID or value for this tenant", p.Detail)

	p = mapped(t, &tokens.EnvironmentError{Environment: "prod", Known: []string{"staging"}})
	require.Equal(t, http.StatusUnprocessableEntity, p.Status)
	require.Equal(t, []FieldError{{Field: "environment", Message: `the tenant has no environment "prod"; it has staging`}}, p.Errors)

	p = mapped(t, &accessmanager.ValidationError{Fields: []accessmanager.FieldError{{Field: "ttl", Message: "bad"}}})
	require.Equal(t, []FieldError{{Field: "ttl", Message: "bad"}}, p.Errors)

	p = mapped(t, &tokens.AccessManagerOffError{Environment: "development"})
	require.Equal(t, http.StatusConflict, p.Status)
	require.Equal(t, "access_manager_off", p.Code)

	p = mapped(t, &tokens.NotRevocableError{Reason: tokens.ReasonTokenRevokeOff, Environment: "staging"})
	require.Equal(t, "token_not_revocable", p.Code)
	require.Equal(t, tokens.ReasonTokenRevokeOff, p.Extra["reason"])

	p = mapped(t, &tokens.UpstreamError{Op: "grant", Attempts: 1, Err: &accessmanager.Error{Op: "grant", StatusCode: 400, Message: "Invalid ttl",
		Details: []accessmanager.ErrorDetail{{Message: "Range should be 1 to 43200 minute(s).", Location: "ttl", LocationType: "body"}}}})
	require.Equal(t, http.StatusBadRequest, p.Status)
	require.Equal(t, "upstream_invalid", p.Code)
	require.Equal(t, []FieldError{{Field: "ttl", Message: "Range should be 1 to 43200 minute(s)."}}, p.Errors)

	// The listings' cursor: one row, whoever refuses it.
	p = mapped(t, invalid.ErrCursor)
	require.Equal(t, []FieldError{{Field: "cursor", Message: "is not a cursor from this listing"}}, p.Errors)
	_, err := decodeUsageCursor("nope")
	require.ErrorIs(t, err, invalid.ErrCursor)
}

// mapped is what the error table makes of err.
func mapped(t *testing.T, err error) *Error {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As((&Server{}).mapError(err), &e), "no row takes %v", err)
	return e
}

func fieldNames(e *Error) []string {
	out := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		out[i] = f.Field
	}
	return out
}

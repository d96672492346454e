package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/invalid"
)

// TestAPIKeyNameRule: a key's name has one rule with one wording, whoever makes the key: the
// API answers what auth.Create (the CLI's path) says.
func TestAPIKeyNameRule(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.key(t, auth.ScopeAdmin)
	for name, bad := range map[string]string{"Blank": " \u00a0", "Empty": "", "TooLong": strings.Repeat("n", 101), "TooLongWithSpace": strings.Repeat("n", 100) + " "} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, _, err := ts.keys.Create(context.Background(), auth.CreateParams{Name: bad, Scopes: []auth.Scope{auth.ScopeTenantsRead}, CreatedBy: auth.SystemActor("test")})
			fields, ok := invalid.FieldsOf(err)
			require.True(t, ok, "%v", err)

			resp := ts.do(t, http.MethodPost, "/v1/api-keys", admin, map[string]any{"name": bad, "scopes": []string{"tenants:read"}})
			require.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
			p := requireDecode[problemBody](t, resp)
			require.Len(t, p.Errors, 1)
			require.Equal(t, "name", p.Errors[0].Field)
			require.Equal(t, fields["name"], p.Errors[0].Message)
		})
	}
}

package api_test

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
)

// publicRoutes need no key; every other route must demand one.
var publicRoutes = []string{"GET /healthz", "GET /readyz", "GET /openapi.yaml", "GET /docs", "GET /docs/redoc.standalone.js"}

type walkedRoute struct {
	method, pattern string
	scope           auth.Scope // "" for public
}

// walkRoutes lists the router's routes and, from each route's handler, the scope it needs.
func walkRoutes(t *testing.T, h http.Handler) []walkedRoute {
	t.Helper()
	var out []walkedRoute
	err := chi.Walk(h.(chi.Routes), func(method, route string, handler http.Handler, _ ...func(http.Handler) http.Handler) error {
		wr := walkedRoute{method: method, pattern: route}
		if sh, ok := handler.(interface{ Scope() auth.Scope }); ok {
			wr.scope = sh.Scope()
		}
		out = append(out, wr)
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, out)
	return out
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestRouteAuthorization walks every registered route: no key → 401; a key with every scope
// but the route's → 403; a key with only the route's scope → neither.
func TestRouteAuthorization(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	for _, rt := range walkRoutes(t, ts.handler) {
		name := rt.method + " " + rt.pattern
		path := pathParam.ReplaceAllString(rt.pattern, "unknown-id")
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			t.Parallel()
			if rt.scope == "" {
				require.Contains(t, publicRoutes, name, "route has no scope but is not public")
				resp := ts.do(t, rt.method, path, "", nil)
				require.NotEqual(t, http.StatusUnauthorized, resp.Status)
				return
			}
			require.NotContains(t, publicRoutes, name)

			resp := ts.do(t, rt.method, path, "", nil)
			require.Equal(t, http.StatusUnauthorized, resp.Status, string(resp.Body))
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			if rt.method == http.MethodHead {
				return // no body to inspect; GET covers the same route
			}
			require.Equal(t, "unauthenticated", resp.JSON(t)["code"])

			var others []auth.Scope
			for _, s := range auth.AllScopes() {
				if s != rt.scope {
					others = append(others, s)
				}
			}
			resp = ts.do(t, rt.method, path, ts.key(t, others...), nil)
			require.Equal(t, http.StatusForbidden, resp.Status, string(resp.Body))
			body := resp.JSON(t)
			require.Equal(t, "insufficient_scope", body["code"])
			require.Equal(t, string(rt.scope), body["requiredScope"])
			require.Contains(t, body["detail"], string(rt.scope))

			resp = ts.do(t, rt.method, path, ts.key(t, rt.scope), nil)
			require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, resp.Status, string(resp.Body))
		})
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("RefusalsLookAlike", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		good := ts.key(t, auth.ScopeAdmin)

		expired, plainExpired, err := ts.keys.Create(ctx, auth.CreateParams{Name: "short", Scopes: []auth.Scope{auth.ScopeAdmin}, ExpiresIn: time.Millisecond, CreatedBy: auth.SystemActor("test")})
		require.NoError(t, err)
		require.NotEmpty(t, expired.ID)
		time.Sleep(5 * time.Millisecond)

		revoked, plainRevoked, err := ts.keys.Create(ctx, auth.CreateParams{Name: "gone", Scopes: []auth.Scope{auth.ScopeAdmin}, CreatedBy: auth.SystemActor("test")})
		require.NoError(t, err)
		_, err = ts.keys.Revoke(ctx, revoked.ID)
		require.NoError(t, err)

		var bodies []string
		for name, header := range map[string]string{
			"Missing":   "",
			"NotBearer": "Basic " + good,
			"Malformed": "Bearer nope",
			"Unknown":   "Bearer pno_abcdefgh_" + strings.Repeat("A", 43),
			"Expired":   "Bearer " + plainExpired,
			"Revoked":   "Bearer " + plainRevoked,
		} {
			resp := ts.doHeader(t, http.MethodGet, "/v1/api-keys", header)
			require.Equal(t, http.StatusUnauthorized, resp.Status, name)
			require.Equal(t, `Bearer realm="pnonboard"`, resp.Header.Get("WWW-Authenticate"), name)
			b := resp.JSON(t)
			delete(b, "requestId")
			bodies = append(bodies, mustJSON(t, b))
		}
		// Every refusal says the same thing: nothing about why the key was refused.
		for _, b := range bodies {
			require.Equal(t, bodies[0], b)
		}

		require.Equal(t, http.StatusOK, ts.do(t, http.MethodGet, "/v1/api-keys", good, nil).Status)
	})

	t.Run("NoKeyMaterialInLogs", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		admin := ts.key(t, auth.ScopeAdmin, auth.ScopeTenantsRead)

		created := ts.do(t, http.MethodPost, "/v1/api-keys", admin, map[string]any{"name": "partner", "scopes": []string{"tenants:read"}})
		require.Equal(t, http.StatusCreated, created.Status, string(created.Body))
		newKey := created.JSON(t)["key"].(string)
		ts.do(t, http.MethodGet, "/v1/api-keys", newKey, nil)            // 403
		ts.do(t, http.MethodGet, "/v1/api-keys", newKey+"x", nil)        // 401
		ts.do(t, http.MethodGet, "/v1/api-keys", admin, nil)             // 200
		ts.do(t, http.MethodPost, "/v1/api-keys", admin, `{"name": "x"`) // 400

		logs := ts.logs.String()
		require.Contains(t, logs, `"route":"/v1/api-keys"`, "the request cycle was logged")
		for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
			require.Contains(t, line, `"request_id":"req_`, "every line of a request names it: %s", line)
		}
		for _, secret := range []string{admin, newKey, secretPart(admin), secretPart(newKey)} {
			require.NotContains(t, logs, secret)
		}
	})
}

func secretPart(key string) string { return key[len("pno_abcdefgh_"):] } // the part after the visible prefix

func TestAPIKeyEndpoints(t *testing.T) {
	t.Parallel()

	t.Run("CreateListRevoke", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		admin := ts.key(t, auth.ScopeAdmin, auth.ScopeTenantsRead, auth.ScopeTenantsWrite)

		resp := ts.do(t, http.MethodPost, "/v1/api-keys", admin, map[string]any{
			"name": "acme backend", "scopes": []string{"tenants:write", "tenants:read"}, "expiresIn": "90d",
		})
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		created := resp.JSON(t)
		key := created["key"].(string)
		require.True(t, strings.HasPrefix(key, created["prefix"].(string)+"_"))
		require.Equal(t, []any{"tenants:read", "tenants:write"}, created["scopes"])
		expires, err := time.Parse(time.RFC3339, created["expiresAt"].(string))
		require.NoError(t, err)
		require.WithinDuration(t, time.Now().Add(90*24*time.Hour), expires, time.Minute)
		require.Contains(t, created["createdBy"], "key:test")

		// The new key works for its scopes.
		require.NotEqual(t, http.StatusUnauthorized, ts.do(t, http.MethodGet, "/v1/tenants/x", key, nil).Status)

		list := ts.do(t, http.MethodGet, "/v1/api-keys", admin, nil)
		require.Equal(t, http.StatusOK, list.Status)
		require.NotContains(t, string(list.Body), secretPart(key), "listings never show keys")
		data := list.JSON(t)["data"].([]any)
		require.Len(t, data, 2)
		_, hasKey := data[0].(map[string]any)["key"]
		require.False(t, hasKey)

		id := created["id"].(string)
		revoked := ts.do(t, http.MethodDelete, "/v1/api-keys/"+id, admin, nil)
		require.Equal(t, http.StatusOK, revoked.Status)
		require.NotNil(t, revoked.JSON(t)["revokedAt"])
		require.Equal(t, http.StatusUnauthorized, ts.do(t, http.MethodGet, "/v1/api-keys", key, nil).Status)

		require.Equal(t, http.StatusNotFound, ts.do(t, http.MethodDelete, "/v1/api-keys/3b241101-e2bb-4255-8caf-4136c566a962", admin, nil).Status)
	})

	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t)
		admin := ts.key(t, auth.ScopeAdmin)
		tests := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"MissingName", map[string]any{"scopes": []string{"admin"}}, 422, "name"},
			{"UnknownScope", map[string]any{"name": "x", "scopes": []string{"root"}}, 422, "scopes"},
			{"NoScopes", map[string]any{"name": "x", "scopes": []string{}}, 422, "scopes"},
			{"TooLong", map[string]any{"name": "x", "scopes": []string{"admin"}, "expiresIn": "400d"}, 422, "expiresIn"},
			{"UnknownField", map[string]any{"name": "x", "scopes": []string{"admin"}, "owner": "me"}, 422, "owner"},
			{"WrongType", map[string]any{"name": 7, "scopes": []string{"admin"}}, 422, "name"},
			{"MalformedJSON", `{"name":`, 400, ""},
			{"Empty", "", 400, ""},
			{"TooLarge", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp := ts.do(t, http.MethodPost, "/v1/api-keys", admin, tt.body)
				require.Equal(t, tt.status, resp.Status, string(resp.Body))
				require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
				body := resp.JSON(t)
				require.NotEmpty(t, body["requestId"])
				if tt.field != "" {
					errs := body["errors"].([]any)
					fields := []string{}
					for _, e := range errs {
						fields = append(fields, e.(map[string]any)["field"].(string))
					}
					require.True(t, slices.Contains(fields, tt.field), "%v", fields)
				}
			})
		}
	})
}

// TestAPIKeyEscalation: a key grants only scopes it holds (issue 11: an admin-only key made
// itself a credentials:read key and read secret keys with it).
func TestAPIKeyEscalation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	adminOnly := ts.key(t, auth.ScopeAdmin)

	resp := ts.do(t, http.MethodPost, "/v1/api-keys", adminOnly, map[string]any{"name": "sneaky", "scopes": []string{"credentials:read"}})
	require.Equal(t, http.StatusForbidden, resp.Status, string(resp.Body))
	p := resp.JSON(t)
	require.Equal(t, "cannot_grant_scope", p["code"])
	require.Equal(t, []any{"credentials:read"}, p["missingScopes"])
	resp = ts.do(t, http.MethodPost, "/v1/api-keys", adminOnly, map[string]any{"name": "sneaky", "scopes": []string{"admin", "tenants:read"}})
	require.Equal(t, http.StatusForbidden, resp.Status)
	require.Equal(t, []any{"tenants:read"}, resp.JSON(t)["missingScopes"])

	// What it holds, it may pass on.
	resp = ts.do(t, http.MethodPost, "/v1/api-keys", adminOnly, map[string]any{"name": "deputy", "scopes": []string{"admin"}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))

	// A fuller key grants a subset of its own scopes.
	support := ts.key(t, auth.ScopeAdmin, auth.ScopeTenantsRead, auth.ScopeCredentialsRead)
	resp = ts.do(t, http.MethodPost, "/v1/api-keys", support, map[string]any{"name": "reader", "scopes": []string{"tenants:read", "credentials:read"}})
	require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
	resp = ts.do(t, http.MethodPost, "/v1/api-keys", support, map[string]any{"name": "writer", "scopes": []string{"tenants:write"}})
	require.Equal(t, http.StatusForbidden, resp.Status)

	// Nothing was made by the refused calls.
	list := ts.do(t, http.MethodGet, "/v1/api-keys", adminOnly, nil).JSON(t)["data"].([]any)
	require.Len(t, list, 4) // adminOnly, deputy, support, reader
}

// TestAPIKeyExpiresIn: one grammar, one wording (issue 11: 213504d overflowed into a key that
// expired in 25 minutes; 1ns and +1d were accepted; 365d and 8760h were refused in two ways).
func TestAPIKeyExpiresIn(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.key(t, auth.ScopeAdmin)
	create := func(expiresIn string) *response {
		return ts.do(t, http.MethodPost, "/v1/api-keys", admin, map[string]any{"name": "x", "scopes": []string{"admin"}, "expiresIn": expiresIn})
	}
	for _, ok := range []string{"1m", "30m", "12h", "90d", "720h"} {
		require.Equal(t, http.StatusCreated, create(ok).Status, ok)
	}
	var messages []string
	for _, bad := range []string{"213504d", "0d", "0h", "-1d", "+1d", "1ns", "1s", "1h30m", "1.5d", "366d", "8761h", "soon", "1d\u00a0"} {
		resp := create(bad)
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status, bad)
		errs := resp.JSON(t)["errors"].([]any)
		require.Len(t, errs, 1, bad)
		require.Equal(t, "expiresIn", errs[0].(map[string]any)["field"])
		messages = append(messages, errs[0].(map[string]any)["message"].(string))
	}
	for _, m := range messages {
		require.Equal(t, "must be "+auth.ExpiryRule, m)
	}
}

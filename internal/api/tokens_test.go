package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/api"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
	"github.com/pnonboard/pnonboard/internal/tokens"
)

const sandboxKey = "api-test-sandbox-key"

// tokensBundle is a test server with an active tenant "acme" whose keysets exist in the
// sandbox: development with Access Manager off, staging with it on (and token revoke).
type tokensBundle struct {
	*testServer
	writer  string // tokens:write
	reader  string // tenants:read
	keysets map[string]sandbox.Keyset
}

func setupTokens(t *testing.T) *tokensBundle {
	t.Helper()
	ts := newTestServer(t)
	b := &tokensBundle{testServer: ts, writer: ts.key(t, auth.ScopeTokensWrite), reader: ts.key(t, auth.ScopeTenantsRead), keysets: map[string]sandbox.Keyset{}}
	ctx := context.Background()
	tn, _, err := ts.tenants.Create(ctx, tenants.CreateParams{ExternalID: "acme", Name: "Acme", Environments: []string{"development", "staging"}, Actor: "test"})
	require.NoError(t, err)
	var app struct {
		ID string `json:"id"`
	}
	b.sandbox(t, http.MethodPost, "/v2/apps", map[string]any{"name": "acme"}, &app)
	for _, env := range []string{"development", "staging"} {
		var created struct {
			Keyset struct {
				ID string `json:"id"`
			} `json:"keyset"`
		}
		b.sandbox(t, http.MethodPost, "/v2/keysets", map[string]any{
			"keyset": map[string]any{"name": "acme-" + env, "appId": app.ID, "type": "testing"},
			"config": map[string]any{"accessManager": map[string]any{"enabled": env == "staging", "tokenRevoke": env == "staging"}},
		}, &created)
		for _, k := range ts.sb.Keysets() {
			if k.ID == created.Keyset.ID {
				b.keysets[env] = k
			}
		}
		k := b.keysets[env]
		tenantstest.HoldKeyset(t, ts.db.Pool, tn.ID, env, tenantstest.Keyset{KeysetID: k.ID, PublishKey: k.PublishKey, SubscribeKey: k.SubscribeKey,
			SecretKeySealed: ts.keyring.Seal([]byte(k.SecretKeys[0].Value), tenants.SecretAAD(tn.ID, env)), Assigned: true})
	}
	tenantstest.Provisioned(t, ts.db.Pool, tn.ID, app.ID, "c")
	return b
}

// sandbox calls the sandbox's Admin API, requiring a 2xx.
func (b *tokensBundle) sandbox(t *testing.T, method, path string, body, out any) {
	t.Helper()
	raw, err := json.Marshal(body)
	require.NoError(t, err)
	req := httptest.NewRequest(method, path, bytes.NewReader(raw))
	req.Header.Set("Authorization", sandboxKey)
	req.Header.Set("PubNub-Version", "2026-02-09")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	b.sb.ServeHTTP(rec, req)
	require.Less(t, rec.Code, 300, rec.Body.String())
	if out != nil {
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), out))
	}
}

func grantBody() map[string]any {
	return map[string]any{
		"environment": "staging", "ttl": 15, "authorizedUserId": "end-user-42",
		"channels":      map[string]any{"room-1": []string{"read", "write"}},
		"channelGroups": map[string]any{"friends": []string{"read"}},
		"userIds":       map[string]any{"end-user-42": []string{"get", "update"}},
		"patterns":      map[string]any{"channels": map[string]any{"^lobby-.*$": []string{"read"}}},
		"meta":          map[string]any{"plan": "pro", "seats": 3, "beta": true},
	}
}

func TestTokenEndpoints(t *testing.T) {
	t.Parallel()

	t.Run("GrantParseListRevoke", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		resp := b.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, grantBody())
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		g := resp.JSON(t)
		token, id := g["token"].(string), g["id"].(string)
		require.True(t, strings.HasPrefix(id, "tok_"))
		require.Equal(t, "staging", g["environment"])
		require.EqualValues(t, 15, g["ttl"])
		require.Equal(t, "end-user-42", g["authorizedUserId"])
		wantResources := map[string]any{
			"channels":      map[string]any{"room-1": []any{"read", "write"}},
			"channelGroups": map[string]any{"friends": []any{"read"}},
			"userIds":       map[string]any{"end-user-42": []any{"get", "update"}},
		}
		require.Equal(t, wantResources, g["resources"])
		require.Equal(t, map[string]any{"channels": map[string]any{"^lobby-.*$": []any{"read"}}, "channelGroups": map[string]any{}, "userIds": map[string]any{}}, g["patterns"])
		require.Equal(t, map[string]any{"plan": "pro", "seats": float64(3), "beta": true}, g["meta"])

		// The sandbox verified pnonboard's signature with the keyset's secret.
		issued := b.sb.IssuedTokens(b.keysets["staging"].SubscribeKey)
		require.Len(t, issued, 1)
		require.Equal(t, token, issued[0].Token)
		require.Equal(t, b.keysets["staging"].SecretKeys[0].Value, issued[0].SecretKey)

		// Parse says the same, in the same shape.
		resp = b.do(t, http.MethodPost, "/v1/tokens/parse", b.reader, map[string]any{"token": token})
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		p := resp.JSON(t)
		require.EqualValues(t, 2, p["version"])
		for _, f := range []string{"issuedAt", "expiresAt", "ttl", "authorizedUserId", "resources", "patterns", "meta"} {
			require.Equal(t, g[f], p[f], f)
		}

		// Listed, never with the token.
		resp = b.do(t, http.MethodGet, "/v1/tenants/acme/tokens", b.reader, nil)
		require.Equal(t, http.StatusOK, resp.Status, string(resp.Body))
		require.NotContains(t, string(resp.Body), token)
		data := resp.JSON(t)["data"].([]any)
		require.Len(t, data, 1)
		rec := data[0].(map[string]any)
		require.Equal(t, id, rec["id"])
		require.Nil(t, rec["revokedAt"])

		// Revoked by ID; the listing and the sandbox say so.
		resp = b.do(t, http.MethodDelete, "/v1/tenants/acme/tokens/"+id, b.writer, nil)
		require.Equal(t, http.StatusNoContent, resp.Status, string(resp.Body))
		revoked := b.sb.RevokedTokens(b.keysets["staging"].SubscribeKey)
		require.Len(t, revoked, 1)
		require.Equal(t, token, revoked[0].Token)
		rec = b.do(t, http.MethodGet, "/v1/tenants/acme/tokens", b.reader, nil).JSON(t)["data"].([]any)[0].(map[string]any)
		require.NotNil(t, rec["revokedAt"])
		require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, "/v1/tenants/acme/tokens/"+id, b.writer, nil).Status, "again: still 204")

		// Neither the secret key nor the token was logged.
		logs := b.logs.String()
		require.NotContains(t, logs, token)
		require.NotContains(t, logs, b.keysets["staging"].SecretKeys[0].Value)
	})

	t.Run("RevokeByTheTokenItself", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		token := b.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, grantBody()).JSON(t)["token"].(string)
		resp := b.do(t, http.MethodDelete, "/v1/tenants/acme/tokens/"+url.PathEscape(token), b.writer, nil)
		require.Equal(t, http.StatusNoContent, resp.Status, string(resp.Body))
		require.Len(t, b.sb.RevokedTokens(b.keysets["staging"].SubscribeKey), 1)
		require.NotContains(t, b.logs.String(), token)

		resp = b.do(t, http.MethodDelete, "/v1/tenants/acme/tokens/tok_aaaaaaaaaaaaaaaaaaaaaaaaaa", b.writer, nil)
		require.Equal(t, http.StatusNotFound, resp.Status)
		require.Equal(t, "token_not_found", resp.JSON(t)["code"])
	})

	t.Run("AccessManagerOffNeedsNoToken", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		body := grantBody()
		body["environment"] = "development"
		resp := b.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, body)
		require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
		p := resp.JSON(t)
		require.Equal(t, "access_manager_off", p["code"])
		require.Equal(t, "development", p["environment"])
		require.Contains(t, p["detail"], "need no token")
	})

	t.Run("TenantNotActive", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		tenantstest.SetState(t, b.db.Pool, "acme", tenants.StateDisabled, tenants.DesiredActive)
		resp := b.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, grantBody())
		require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
		p := resp.JSON(t)
		require.Equal(t, "invalid_state", p["code"])
		require.Equal(t, string(tenants.StateDisabled), p["currentState"])
		require.Contains(t, p["detail"], "it is disabled")
		require.Zero(t, b.sb.CallCount(sandbox.OpGrantToken))
	})

	t.Run("UpstreamRefusalCarriesPubNubsMessage", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		// The secret moved upstream behind pnonboard's back: the sandbox refuses the signature.
		b.sandbox(t, http.MethodPost, "/v2/keysets/"+b.keysets["staging"].ID+"/secret-keys", map[string]any{}, nil)
		resp := b.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, grantBody())
		require.Equal(t, http.StatusForbidden, resp.Status, string(resp.Body))
		p := resp.JSON(t)
		require.Equal(t, "upstream_forbidden", p["code"])
		require.EqualValues(t, 403, p["upstreamStatus"])
		require.Contains(t, p["detail"], "Invalid signature")
	})

	t.Run("UpstreamBadRequestIsA400", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		b.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultStatus, Status: 400, Message: "Invalid ttl"}, 1)
		resp := b.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, grantBody())
		require.Equal(t, http.StatusBadRequest, resp.Status, string(resp.Body))
		p := resp.JSON(t)
		require.Equal(t, "upstream_invalid", p["code"])
		require.Contains(t, p["detail"], "Invalid ttl")
	})

	t.Run("UpstreamDownIsA503AfterRetries", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		b.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultServerError}, -1)
		resp := b.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, grantBody())
		require.Equal(t, http.StatusServiceUnavailable, resp.Status, string(resp.Body))
		require.Equal(t, "upstream_unavailable", resp.JSON(t)["code"])
		require.Equal(t, 3, b.sb.CallCount(sandbox.OpGrantToken))
	})

	t.Run("ParseRefusesWhatIsNoToken", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		resp := b.do(t, http.MethodPost, "/v1/tokens/parse", b.reader, map[string]any{"token": "not-a-token"})
		require.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
		errs := resp.JSON(t)["errors"].([]any)
		require.Equal(t, "token", errs[0].(map[string]any)["field"])
		require.Contains(t, errs[0].(map[string]any)["message"], "is not an Access Manager v3 token")
	})
}

// withTokens is b's API over the same database and sandbox with another token service: envs
// as the environment profiles say, and transport (nil: http.DefaultTransport) carrying its
// data-plane calls.
func (b *tokensBundle) withTokens(t *testing.T, envs []tokens.Environment, transport http.RoundTripper) *testServer {
	t.Helper()
	sbSrv := httptest.NewServer(b.sb)
	t.Cleanup(sbSrv.Close)
	if transport == nil {
		transport = http.DefaultTransport
	}
	svc := tokens.NewService(tokens.ServiceOpts{
		Pool: b.db.Pool, Tenants: b.tenants, Keyring: b.keyring, Environments: envs, RetryBase: time.Millisecond,
		Client: accessmanager.New(sbSrv.URL, &http.Client{Transport: transport, Timeout: 5 * time.Second}),
	})
	ts := *b.testServer
	ts.handler = api.NewServer(&api.ServerOpts{
		Logger: slog.New(slog.DiscardHandler), Ready: func(context.Context) error { return nil },
		Keys: b.keys, Tenants: b.tenants, Webhooks: b.webhooks, Tokens: svc, OpenAPI: pnonboard.OpenAPI(),
	})
	ts.srv = httptest.NewServer(ts.handler)
	t.Cleanup(ts.srv.Close)
	return &ts
}

// TestTokenRevokeRefusals: PubNub cannot revoke a token of a keyset with token revoke off, nor
// one whose TTL passes 30 days; pnonboard answers 409 token_not_revocable with the reason and
// asks Access Manager nothing.
func TestTokenRevokeRefusals(t *testing.T) {
	t.Parallel()

	t.Run("TokenRevokeOff", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		ts := b.withTokens(t, []tokens.Environment{{Name: "development"}, {Name: "staging", AccessManager: true, TokenRevoke: false}}, nil)
		resp := ts.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, grantBody())
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		id := resp.JSON(t)["id"].(string)

		resp = ts.do(t, http.MethodDelete, "/v1/tenants/acme/tokens/"+id, b.writer, nil)
		require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
		p := resp.JSON(t)
		require.Equal(t, "token_not_revocable", p["code"])
		require.Equal(t, tokens.ReasonTokenRevokeOff, p["reason"])
		require.Contains(t, p["detail"], "token revoke (accessManager.tokenRevoke) off")
		require.Zero(t, b.sb.CallCount(sandbox.OpRevokeToken))
	})

	t.Run("TTLOverThirtyDays", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		resp := b.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, grantBody())
		require.Equal(t, http.StatusCreated, resp.Status, string(resp.Body))
		id := resp.JSON(t)["id"].(string)
		// Only a token pnonboard did not make could have one (it grants 30 days at most); the
		// rule is PubNub's.
		ctx := context.Background()
		_, err := b.db.Pool.Exec(ctx, `ALTER TABLE issued_tokens DROP CONSTRAINT issued_tokens_ttl_minutes_check`)
		require.NoError(t, err)
		_, err = b.db.Pool.Exec(ctx, `UPDATE issued_tokens SET ttl_minutes = 43201 WHERE id = $1`, id)
		require.NoError(t, err)

		resp = b.do(t, http.MethodDelete, "/v1/tenants/acme/tokens/"+id, b.writer, nil)
		require.Equal(t, http.StatusConflict, resp.Status, string(resp.Body))
		p := resp.JSON(t)
		require.Equal(t, "token_not_revocable", p["code"])
		require.Equal(t, tokens.ReasonTTLTooLong, p["reason"])
		require.Contains(t, p["detail"], "at most 43200 minutes (30 days); this one has 43201")
		require.Zero(t, b.sb.CallCount(sandbox.OpRevokeToken))
	})
}

// TestTokenUpstreamAnswers: what Access Manager answers, as the caller sees it.
func TestTokenUpstreamAnswers(t *testing.T) {
	t.Parallel()

	// PubNub's 400 names the failing field in its details; the problem names it in this API's
	// terms. The sandbox checked the signature; the answer is replaced by a 400 of PubNub's shape.
	t.Run("BadRequestNamesTheField", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		ts := b.withTokens(t, []tokens.Environment{{Name: "development"}, {Name: "staging", AccessManager: true, TokenRevoke: true}},
			roundTripFunc(func(r *http.Request) (*http.Response, error) {
				res, err := http.DefaultTransport.RoundTrip(r)
				if err != nil || res.StatusCode != http.StatusOK {
					return res, err
				}
				res.Body.Close()
				body := `{"error":{"message":"Invalid meta","source":"grant","details":[{"message":"Meta values must be a string, a number or a boolean.","location":"permissions.meta.plan","locationType":"body"}]},"service":"Access Manager","status":400}`
				return &http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
					Header: http.Header{"Content-Type": {"text/javascript; charset=UTF-8"}}, Body: io.NopCloser(strings.NewReader(body)),
					ContentLength: int64(len(body)), Request: r}, nil
			}))
		resp := ts.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, grantBody())
		require.Equal(t, http.StatusBadRequest, resp.Status, string(resp.Body))
		p := requireDecode[struct {
			problemBody
			UpstreamStatus int `json:"upstreamStatus"`
		}](t, resp)
		require.Equal(t, "upstream_invalid", p.Code)
		require.Equal(t, 400, p.UpstreamStatus)
		require.Contains(t, p.Detail, "Invalid meta")
		require.Len(t, p.Errors, 1)
		require.Equal(t, "meta.plan", p.Errors[0].Field)
		require.Equal(t, "Meta values must be a string, a number or a boolean.", p.Errors[0].Message)
		require.Equal(t, 1, b.sb.CallCount(sandbox.OpGrantToken), "a refusal is not retried")
	})

	// A 429 is not retried: the caller is told at once to try again.
	t.Run("TooManyRequestsIsA503AtOnce", func(t *testing.T) {
		t.Parallel()
		b := setupTokens(t)
		b.sb.InjectFault(sandbox.OpGrantToken, sandbox.Fault{Kind: sandbox.FaultStatus, Status: http.StatusTooManyRequests}, -1)
		resp := b.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, grantBody())
		require.Equal(t, http.StatusServiceUnavailable, resp.Status, string(resp.Body))
		p := resp.JSON(t)
		require.Equal(t, "upstream_unavailable", p["code"])
		require.EqualValues(t, 429, p["upstreamStatus"])
		require.Contains(t, p["detail"], "limiting the rate")
		require.Equal(t, 1, b.sb.CallCount(sandbox.OpGrantToken))
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestGrantTokenValidation: every bad body is a 422 naming the field, and reaches no one.
func TestGrantTokenValidation(t *testing.T) {
	t.Parallel()
	b := setupTokens(t)
	with := func(change func(m map[string]any)) map[string]any {
		m := grantBody()
		change(m)
		return m
	}
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"UnknownPermissionWord", with(func(m map[string]any) { m["channels"] = map[string]any{"room-1": []string{"fly"}} }), "channels.room-1"},
		{"WordNotForTheType", with(func(m map[string]any) { m["channelGroups"] = map[string]any{"g": []string{"write"}} }), "channelGroups.g"},
		{"UserIDWord", with(func(m map[string]any) { m["userIds"] = map[string]any{"u": []string{"read"}} }), "userIds.u"},
		{"NoWords", with(func(m map[string]any) { m["channels"] = map[string]any{"room-1": []string{}} }), "channels.room-1"},
		{"PatternWord", with(func(m map[string]any) {
			m["patterns"] = map[string]any{"channelGroups": map[string]any{"^g$": []string{"join"}}}
		}), "patterns.channelGroups.^g$"},
		{"TTLZero", with(func(m map[string]any) { m["ttl"] = 0 }), "ttl"},
		{"TTLOver30Days", with(func(m map[string]any) { m["ttl"] = 43_201 }), "ttl"},
		{"TTLMissing", with(func(m map[string]any) { delete(m, "ttl") }), "ttl"},
		{"TTLFraction", with(func(m map[string]any) { m["ttl"] = 1.5 }), "ttl"},
		{"NoResources", with(func(m map[string]any) {
			delete(m, "channels")
			delete(m, "channelGroups")
			delete(m, "userIds")
			delete(m, "patterns")
		}), "resources"},
		{"EmptyMaps", with(func(m map[string]any) {
			m["channels"], m["channelGroups"], m["userIds"], m["patterns"] = map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}
		}), "resources"},
		{"MetaObject", with(func(m map[string]any) { m["meta"] = map[string]any{"a": map[string]any{"b": 1}} }), "meta.a"},
		{"MetaArray", with(func(m map[string]any) { m["meta"] = map[string]any{"a": []int{1}} }), "meta.a"},
		{"MetaNull", with(func(m map[string]any) { m["meta"] = map[string]any{"a": nil} }), "meta.a"},
		{"BadRegex", with(func(m map[string]any) {
			m["patterns"] = map[string]any{"channels": map[string]any{"(": []string{"read"}}}
		}), "patterns.channels.("},
		{"NotRE2", with(func(m map[string]any) {
			m["patterns"] = map[string]any{"channels": map[string]any{`(?=x)`: []string{"read"}}}
		}), "patterns.channels.(?=x)"},
		{"EnvironmentMissing", with(func(m map[string]any) { delete(m, "environment") }), "environment"},
		{"EnvironmentUnknown", with(func(m map[string]any) { m["environment"] = "production" }), "environment"},
		{"BlankUser", with(func(m map[string]any) { m["authorizedUserId"] = " " }), "authorizedUserId"},
		{"UnknownField", with(func(m map[string]any) { m["uuid"] = "x" }), "uuid"},
		{"WordsNotAnArray", with(func(m map[string]any) { m["channels"] = map[string]any{"room-1": "read"} }), "channels.room-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := b.do(t, http.MethodPost, "/v1/tenants/acme/tokens", b.writer, tt.body)
			require.Equal(t, http.StatusUnprocessableEntity, resp.Status, string(resp.Body))
			var fields []string
			for _, e := range resp.JSON(t)["errors"].([]any) {
				fields = append(fields, e.(map[string]any)["field"].(string))
			}
			require.Contains(t, fields, tt.field)
		})
	}
	// After every parallel case: none reached Access Manager.
	t.Cleanup(func() { require.Zero(t, b.sb.CallCount(sandbox.OpGrantToken)) })
}

// TestTokenRouteScopes: grant and revoke need tokens:write (and that scope alone opens them:
// a login path's key needs nothing else); listing and parsing need tenants:read.
func TestTokenRouteScopes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	got := map[string]auth.Scope{}
	for _, rt := range walkRoutes(t, ts.handler) {
		if strings.Contains(rt.pattern, "token") {
			got[rt.method+" "+rt.pattern] = rt.scope
		}
	}
	require.Equal(t, map[string]auth.Scope{
		"POST /v1/tenants/{externalId}/tokens":           auth.ScopeTokensWrite,
		"DELETE /v1/tenants/{externalId}/tokens/{token}": auth.ScopeTokensWrite,
		"GET /v1/tenants/{externalId}/tokens":            auth.ScopeTenantsRead,
		"POST /v1/tokens/parse":                          auth.ScopeTenantsRead,
	}, got)
	require.True(t, slices.Contains(auth.AllScopes(), auth.ScopeTokensWrite))
	_, err := auth.ParseScopes([]string{"tokens:write"})
	require.NoError(t, err)
}

// TestCursorRefusalIsOneRow: every listing refuses a cursor it did not make with the same
// problem, the error table's one cursor row: the tokens listing, the tenants listing, and the
// usage report as JSON and as CSV.
func TestCursorRefusalIsOneRow(t *testing.T) {
	t.Parallel()
	b := setupTokens(t)
	usageKey := b.key(t, auth.ScopeUsageRead)
	get := func(path, key, accept string) problemBody {
		t.Helper()
		res := b.get(t, path, key, accept)
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s %s: %s", path, accept, res.Body)
		require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
		return requireDecode[problemBody](t, res)
	}
	want := get("/v1/tenants/acme/tokens?cursor=nope", b.reader, "")
	require.Equal(t, "validation_failed", want.Code)
	require.Len(t, want.Errors, 1)
	require.Equal(t, "cursor", want.Errors[0].Field)
	for _, c := range []struct{ path, key, accept string }{
		{"/v1/tenants?cursor=nope", b.reader, ""},
		{"/v1/usage?cursor=nope", usageKey, ""},
		{"/v1/usage?cursor=nope", usageKey, "text/csv"},
	} {
		got := get(c.path, c.key, c.accept)
		require.Equal(t, want.Errors, got.Errors, "%s %s", c.path, c.accept)
		require.Equal(t, want.Code, got.Code)
		require.Equal(t, want.Detail, got.Detail)
	}
}

package main

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// keysetOf is the sandbox keyset of a tenant's environment.
func (e *e2e) keysetOf(t *testing.T, externalID, env string) sandbox.Keyset {
	t.Helper()
	for _, k := range e.sb.Keysets() {
		if k.Name == "pnonboard-"+externalID+"-"+env {
			return k
		}
	}
	t.Fatalf("no sandbox keyset for %s/%s", externalID, env)
	return sandbox.Keyset{}
}

func revokedTokens(sb *sandbox.Sandbox, subscribeKey string) []string {
	var out []string
	for _, r := range sb.RevokedTokens(subscribeKey) {
		out = append(out, r.Token)
	}
	return out
}

// TestTokensEndToEnd: through run(), against the sandbox's data plane: grant, parse, revoke;
// no grant where Access Manager is off; a disable revokes what was granted and refuses new
// grants; after the enable, grants work again with the rotated secret. Neither secret keys nor
// tokens reach the logs.
func TestTokensEndToEnd(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	status, tn := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "tok", "name": "Tok", "environments": []string{"development", "staging"}}, "Prefer", "wait=30")
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, string(tenants.StateActive), tn["state"], "%v", tn)
	staging := e.keysetOf(t, "tok", "staging")
	secretBefore := staging.SecretKeys[0].Value

	grant := func(t *testing.T, env, channel string) (int, map[string]any) {
		t.Helper()
		return e.call(t, http.MethodPost, "/v1/tenants/tok/tokens", map[string]any{
			"environment": env, "ttl": 30, "authorizedUserId": "end-user-7",
			"channels": map[string]any{channel: []string{"read", "write"}},
			"patterns": map[string]any{"channelGroups": map[string]any{"^team-.*$": []string{"read", "manage"}}},
		})
	}
	var tokens []string

	// Grant, and parse what came back.
	status, g := grant(t, "staging", "room-1")
	require.Equal(t, http.StatusCreated, status, "%v", g)
	first := g["token"].(string)
	tokens = append(tokens, first)
	status, p := e.call(t, http.MethodPost, "/v1/tokens/parse", map[string]any{"token": first})
	require.Equal(t, http.StatusOK, status, "%v", p)
	require.EqualValues(t, 30, p["ttl"])
	require.Equal(t, "end-user-7", p["authorizedUserId"])
	require.Equal(t, map[string]any{"room-1": []any{"read", "write"}}, p["resources"].(map[string]any)["channels"])
	require.Equal(t, map[string]any{"^team-.*$": []any{"read", "manage"}}, p["patterns"].(map[string]any)["channelGroups"])
	issuedAt, err := time.Parse(time.RFC3339, p["issuedAt"].(string))
	require.NoError(t, err)
	expiresAt, err := time.Parse(time.RFC3339, p["expiresAt"].(string))
	require.NoError(t, err)
	require.Equal(t, 30*time.Minute, expiresAt.Sub(issuedAt))

	// The sandbox verified the signature against the keyset's current secret.
	issued := e.sb.IssuedTokens(staging.SubscribeKey)
	require.Len(t, issued, 1)
	require.Equal(t, first, issued[0].Token)
	require.Equal(t, secretBefore, issued[0].SecretKey)

	// Revoke: the sandbox lists it revoked.
	status, _ = e.call(t, http.MethodDelete, "/v1/tenants/tok/tokens/"+g["id"].(string), nil)
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, []string{first}, revokedTokens(e.sb, staging.SubscribeKey))

	// Development has Access Manager off: no token needed, none granted.
	status, p = grant(t, "development", "room-1")
	require.Equal(t, http.StatusConflict, status, "%v", p)
	require.Equal(t, "access_manager_off", p["code"])

	// Bad bodies are 422s naming the field.
	for field, body := range map[string]map[string]any{
		"channels.room":       {"environment": "staging", "ttl": 30, "channels": map[string]any{"room": []string{"fly"}}},
		"ttl":                 {"environment": "staging", "ttl": 0, "channels": map[string]any{"room": []string{"read"}}},
		"resources":           {"environment": "staging", "ttl": 30},
		"meta.a":              {"environment": "staging", "ttl": 30, "channels": map[string]any{"room": []string{"read"}}, "meta": map[string]any{"a": []int{1}}},
		"patterns.channels.[": {"environment": "staging", "ttl": 30, "patterns": map[string]any{"channels": map[string]any{"[": []string{"read"}}}},
	} {
		status, p := e.call(t, http.MethodPost, "/v1/tenants/tok/tokens", body)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %v", field, p)
		var fields []string
		for _, fe := range p["errors"].([]any) {
			fields = append(fields, fe.(map[string]any)["field"].(string))
		}
		require.Contains(t, fields, field)
	}
	status, p = e.call(t, http.MethodPost, "/v1/tenants/tok/tokens", map[string]any{"environment": "staging", "ttl": 43_201, "channels": map[string]any{"room": []string{"read"}}})
	require.Equal(t, http.StatusUnprocessableEntity, status, "%v", p)

	// Two live tokens, then a disable: both are revoked upstream, and grants are refused.
	var live []string
	for _, ch := range []string{"room-2", "room-3"} {
		status, g := grant(t, "staging", ch)
		require.Equal(t, http.StatusCreated, status, "%v", g)
		live = append(live, g["token"].(string))
	}
	tokens = append(tokens, live...)
	status, _ = e.call(t, http.MethodPost, "/v1/tenants/tok/disable", map[string]any{"reason": "unpaid"})
	require.Equal(t, http.StatusAccepted, status)
	e.waitState(t, "tok", tenants.StateDisabled)
	require.Eventually(t, func() bool {
		revoked := revokedTokens(e.sb, staging.SubscribeKey)
		return slices.Contains(revoked, live[0]) && slices.Contains(revoked, live[1])
	}, 30*time.Second, 50*time.Millisecond, "the disable revoked the live tokens: %v", e.sb.RevokedTokens(staging.SubscribeKey))
	status, p = grant(t, "staging", "room-4")
	require.Equal(t, http.StatusConflict, status, "%v", p)
	require.Equal(t, string(tenants.StateDisabled), p["currentState"])
	rotated := e.keysetOf(t, "tok", "staging").SecretKeys[0].Value
	require.NotEqual(t, secretBefore, rotated, "the disable rotated the secret")

	// The timeline says what was revoked, never with the token.
	_, events := e.call(t, http.MethodGet, "/v1/tenants/tok/events?limit=200", nil)
	revocations := 0
	for _, ev := range events["data"].([]any) {
		if ev.(map[string]any)["action"] == string(tenants.ActionTokenRevoked) {
			revocations++
		}
	}
	require.Equal(t, 3, revocations)

	// After the enable, grants work again, signed with the rotated secret.
	status, _ = e.call(t, http.MethodPost, "/v1/tenants/tok/enable", nil)
	require.Equal(t, http.StatusAccepted, status)
	e.waitState(t, "tok", tenants.StateActive)
	status, g = grant(t, "staging", "room-5")
	require.Equal(t, http.StatusCreated, status, "%v", g)
	tokens = append(tokens, g["token"].(string))
	issued = e.sb.IssuedTokens(staging.SubscribeKey)
	last := issued[len(issued)-1]
	require.Equal(t, g["token"], last.Token)
	require.Equal(t, rotated, last.SecretKey)
	require.NotContains(t, revokedTokens(e.sb, staging.SubscribeKey), last.Token, "a token granted after the enable stays")

	// Secrets stay out of the logs.
	logs := e.srv.Stderr.String()
	require.Contains(t, logs, `"route":"/v1/tenants/{externalId}/tokens"`, "the grants were logged, as requests")
	for _, secret := range append([]string{secretBefore, rotated, secretOf(e.key)}, tokens...) {
		require.NotContains(t, logs, secret)
	}
}

// TestDevModeGrantsTokens: dev mode's token service calls its in-process sandbox.
func TestDevModeGrantsTokens(t *testing.T) {
	t.Parallel()
	dir := devDataDir(t)
	srv := startRun(t, []string{"dev", "--addr", freeAddr(t), "--data-dir", dir}, nil)
	srv.waitReady(t, 60*time.Second)
	key := readDevKey(t, dir)
	status, tn := callAPI(t, srv.BaseURL, key, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "acme", "name": "Acme"}, "Prefer", "wait=30")
	require.Equal(t, http.StatusAccepted, status, "%v", tn)
	require.Equal(t, string(tenants.StateActive), tn["state"], "%v", tn)
	status, g := callAPI(t, srv.BaseURL, key, http.MethodPost, "/v1/tenants/acme/tokens", map[string]any{
		"environment": "staging", "ttl": 60, "authorizedUserId": "user-42", "channels": map[string]any{"chat-user-42": []string{"read", "write"}},
	})
	require.Equal(t, http.StatusCreated, status, "%v", g)
	require.NoError(t, srv.stop(t))
	require.NotContains(t, srv.Stderr.String(), g["token"])
}

// TestRetiredEnvironmentRevokesItsTokens: removing an environment locks its keyset and
// revokes the tokens granted on it, and only those; it grants no more.
func TestRetiredEnvironmentRevokesItsTokens(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	wait := []string{"Prefer", "wait=30"}
	status, tn := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "two", "name": "Two", "environments": []string{"staging", "production"}}, wait...)
	require.Equal(t, http.StatusAccepted, status)
	require.Equal(t, string(tenants.StateActive), tn["state"], "%v", tn)
	grant := func(env string) (int, map[string]any) {
		return e.call(t, http.MethodPost, "/v1/tenants/two/tokens", map[string]any{
			"environment": env, "ttl": 60, "channels": map[string]any{"room": []string{"read"}}})
	}
	status, st := grant("staging")
	require.Equal(t, http.StatusCreated, status, "%v", st)
	status, pr := grant("production")
	require.Equal(t, http.StatusCreated, status, "%v", pr)

	status, tn = e.call(t, http.MethodPatch, "/v1/tenants/two", map[string]any{"environments": []string{"production"}}, wait...)
	require.Equal(t, http.StatusOK, status, "%v", tn)
	staging, production := e.keysetOf(t, "two", "staging"), e.keysetOf(t, "two", "production")
	require.Eventually(t, func() bool {
		return slices.Contains(revokedTokens(e.sb, staging.SubscribeKey), st["token"].(string))
	}, 30*time.Second, 50*time.Millisecond, "the retired environment's token is revoked")
	require.Empty(t, revokedTokens(e.sb, production.SubscribeKey), "the other environment's are not")

	status, p := grant("staging")
	require.Equal(t, http.StatusUnprocessableEntity, status, "a retired environment grants no tokens: %v", p)
	status, _ = grant("production")
	require.Equal(t, http.StatusCreated, status)
}

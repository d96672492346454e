package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// e2e is run() serving against a migrated database and a sandbox the test can inspect.
type e2e struct {
	srv *runningServer
	sb  *sandbox.Sandbox
	db  *pgtest.DB
	key string
}

func startE2E(t *testing.T, env map[string]string) *e2e {
	t.Helper()
	return startE2EWith(t, env, &sandbox.Opts{})
}

// startE2EWith is startE2E with a sandbox built from opts (its APIKey is the test's).
func startE2EWith(t *testing.T, env map[string]string, opts *sandbox.Opts) *e2e {
	t.Helper()
	db := pgtest.NewDB(t)
	opts.APIKey = "sandbox-key"
	sb := sandbox.New(opts)
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	_, key, err := auth.NewService(db.Pool, nil).Create(context.Background(), auth.CreateParams{
		Name: "e2e", Scopes: auth.AllScopes(), CreatedBy: auth.SystemActor("test"),
	})
	require.NoError(t, err)
	env = withDefaults(env, map[string]string{
		"DATABASE_URL":                     db.URL,
		"PNONBOARD_ENCRYPTION_KEY":         secrets.NewKey(),
		"PNONBOARD_PUBNUB_URL":             sbSrv.URL + "/v2",
		"PNONBOARD_PUBNUB_ORIGIN":          sbSrv.URL,
		"PNONBOARD_PUBNUB_API_KEY":         "sandbox-key",
		"PNONBOARD_PUBNUB_RATE_PER_MINUTE": "6000",
	})
	srv := startRun(t, []string{"serve"}, env)
	srv.waitReady(t, 30*time.Second)
	return &e2e{srv: srv, sb: sb, db: db, key: key}
}

func (e *e2e) call(t *testing.T, method, path string, body any, header ...string) (int, map[string]any) {
	t.Helper()
	return callAPI(t, e.srv.BaseURL, e.key, method, path, body, header...)
}

// callAPI sends a JSON request with an API key (and header name/value pairs) and decodes the
// JSON answer, if any.
func callAPI(t *testing.T, baseURL, key, method, path string, body any, header ...string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, baseURL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); !errors.Is(err, io.EOF) {
		require.NoError(t, err)
	}
	return resp.StatusCode, out
}

func (e *e2e) waitState(t *testing.T, externalID string, state tenants.State) map[string]any {
	t.Helper()
	var last map[string]any
	require.Eventually(t, func() bool {
		_, last = e.call(t, http.MethodGet, "/v1/tenants/"+externalID, nil)
		return last["state"] == string(state)
	}, 30*time.Second, 50*time.Millisecond, "tenant %s never %s: %v", externalID, state, last)
	return last
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()

	t.Run("CreateWaitsUntilActiveWithFiveUpstreamCalls", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, nil)
		status, tn := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "acme", "name": "Acme Corp"}, "Prefer", "wait=30")
		require.Equal(t, http.StatusAccepted, status)
		require.Equal(t, string(tenants.StateActive), tn["state"], "Prefer: wait=30 answers active in one call: %v", tn)
		require.NotEmpty(t, tn["customerId"])
		require.Len(t, tn["keysets"], 3)

		require.Equal(t, 5, e.sb.CallCount(), "E+2 upstream calls: %v", e.sb.Calls())
		custs := e.sb.Customers()
		require.Len(t, custs, 1)
		require.Equal(t, "acme", custs[0].ExternalID)
		require.Len(t, custs[0].KeysetIDs(), 3)
		for _, k := range e.sb.Keysets() {
			require.Equal(t, custs[0].ID, k.CustomerID, "keyset %s assigned", k.Name)
		}
		for _, ks := range tn["keysets"].([]any) {
			require.Equal(t, string(tenants.KeysetActive), ks.(map[string]any)["state"])
		}
	})

	t.Run("FiftyConcurrentIdenticalCreatesProvisionOnce", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, nil)
		body := map[string]any{"externalId": "burst", "name": "Burst Ltd"}
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			codes  []int
			bodies []map[string]any
		)
		for range 50 {
			wg.Go(func() {
				code, tn := e.call(t, http.MethodPost, "/v1/tenants", body)
				mu.Lock()
				defer mu.Unlock()
				codes, bodies = append(codes, code), append(bodies, tn)
			})
		}
		wg.Wait()
		accepted := 0
		for i, code := range codes {
			require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, code)
			if code == http.StatusAccepted {
				accepted++
			}
			// The same tenant every time; only its progress may have moved on meanwhile
			// (TestCreateTenant in internal/api shows byte-identical bodies with no worker).
			for _, f := range []string{"externalId", "name", "environments", "metadata", "createdAt", "desiredState"} {
				require.Equal(t, bodies[0][f], bodies[i][f], f)
			}
		}
		require.Equal(t, 1, accepted)
		e.waitState(t, "burst", tenants.StateActive)
		require.Len(t, e.sb.Apps(), 1)
		require.Len(t, e.sb.Keysets(), 3)
		require.Len(t, e.sb.Customers(), 1)
		require.Equal(t, 5, e.sb.CallCount())
	})

	t.Run("DisableEnableAndTheWholeStory", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, nil)
		status, _ := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "story", "name": "Story", "environments": []string{"production"}}, "Prefer", "wait=30")
		require.Equal(t, http.StatusAccepted, status)
		secretBefore := e.sb.Keysets()[0].SecretKeys[0].Value

		status, _ = e.call(t, http.MethodPost, "/v1/tenants/story/disable", map[string]any{"reason": "contract ended"})
		require.Equal(t, http.StatusAccepted, status)
		e.waitState(t, "story", tenants.StateDisabled)
		k := e.sb.Keysets()[0]
		require.True(t, k.Config.AccessManager.Enabled)
		require.NotEqual(t, secretBefore, k.SecretKeys[0].Value)
		_, creds := e.call(t, http.MethodGet, "/v1/tenants/story/credentials", nil)
		require.Equal(t, k.SecretKeys[0].Value, creds["data"].([]any)[0].(map[string]any)["secretKey"], "the rotated secret is the one stored")

		status, p := e.call(t, http.MethodPost, "/v1/tenants/story/retry", nil)
		require.Equal(t, http.StatusConflict, status)
		require.Equal(t, string(tenants.StateDisabled), p["currentState"])

		status, _ = e.call(t, http.MethodPost, "/v1/tenants/story/enable", nil)
		require.Equal(t, http.StatusAccepted, status)
		e.waitState(t, "story", tenants.StateActive)

		_, events := e.call(t, http.MethodGet, "/v1/tenants/story/events?limit=200", nil)
		var story []tenants.Action
		for _, ev := range events["data"].([]any) {
			story = append(story, tenants.Action(ev.(map[string]any)["action"].(string)))
		}
		require.Equal(t, []tenants.Action{
			tenants.ActionCreated, tenants.ActionReconcileStarted, tenants.ActionAppCreated, tenants.ActionKeysetCreated,
			tenants.ActionCustomerCreated, tenants.ActionProvisioned,
			// Its holdings were confirmed by their creation a moment ago: no read-back first.
			tenants.ActionDisableRequested, tenants.ActionAccessManagerEnabled,
			tenants.ActionSecretRotated, tenants.ActionDisabled,
			tenants.ActionRetryRefused, tenants.ActionEnableRequested,
			tenants.ActionAccessManagerRestore, tenants.ActionEnabled,
		}, story)
		require.NotContains(t, e.srv.Stderr.String(), secretBefore)
		require.NotContains(t, e.srv.Stderr.String(), k.SecretKeys[0].Value)
		require.NotContains(t, e.srv.Stderr.String(), secretOf(e.key))
	})
}

// TestLongestExternalIDEndToEnd: every externalId the API accepts provisions, the longest
// included (its upstream names are shortened to fit PubNub's limit).
func TestLongestExternalIDEndToEnd(t *testing.T) {
	t.Parallel()
	e := startE2E(t, nil)
	id := strings.Repeat("x", 250) + "-_End"
	require.Len(t, id, 255)
	code, body := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": id, "name": "Longest"}, "Prefer", "wait=30")
	require.Equal(t, http.StatusAccepted, code, "%v", body)
	require.Equal(t, string(tenants.StateActive), body["state"], "%v", body)
	require.Len(t, e.sb.Customers(), 1)
	require.Equal(t, id, e.sb.Customers()[0].ExternalID)
	for _, k := range e.sb.Keysets() {
		require.LessOrEqual(t, len(k.Name), 255, k.Name)
	}
}

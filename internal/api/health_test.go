package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/api"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/pgtest"
)

// TestReadyz: the plain probe is public and unchanged; ?verbose=1 needs an admin key and
// answers one entry per check, 200 when none fails and 503 (problem+json, with the entries)
// when one does.
func TestReadyz(t *testing.T) {
	t.Parallel()
	type testBundle struct {
		srv      *httptest.Server
		spec     *specValidator
		admin    string
		reader   string
		mu       sync.Mutex // the handler reads what the test sets
		ready    error
		checks   []api.ReadyCheck
		checkRan int
	}
	setup := func(t *testing.T, withChecks bool) *testBundle {
		t.Helper()
		db := pgtest.NewDB(t)
		keys := auth.NewService(db.Pool, nil)
		b := &testBundle{spec: newSpecValidator(t)}
		opts := &api.ServerOpts{
			Logger: logging.New(io.Discard, "json", slog.LevelDebug),
			Ready: func(context.Context) error {
				b.mu.Lock()
				defer b.mu.Unlock()
				return b.ready
			},
			Keys:       keys,
			WorkerOnly: true,
		}
		if withChecks {
			opts.ReadyChecks = func(context.Context) []api.ReadyCheck {
				b.mu.Lock()
				defer b.mu.Unlock()
				b.checkRan++
				return b.checks
			}
		}
		b.srv = httptest.NewServer(api.NewServer(opts))
		t.Cleanup(b.srv.Close)
		for _, k := range []struct {
			to    *string
			scope auth.Scope
		}{{&b.admin, auth.ScopeAdmin}, {&b.reader, auth.ScopeTenantsRead}} {
			_, plaintext, err := keys.Create(context.Background(), auth.CreateParams{Name: "t", Scopes: []auth.Scope{k.scope}, CreatedBy: auth.SystemActor("test")})
			require.NoError(t, err)
			*k.to = plaintext
		}
		return b
	}
	get := func(t *testing.T, b *testBundle, path, key string) (int, string, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, b.srv.URL+path, nil)
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		b.spec.check(t, req, resp.StatusCode, resp.Header, body)
		var m map[string]any
		require.NoError(t, json.Unmarshal(body, &m), string(body))
		return resp.StatusCode, resp.Header.Get("Content-Type"), m
	}

	t.Run("PlainIsPublicAndUnchanged", func(t *testing.T) {
		t.Parallel()
		b := setup(t, true)
		for _, path := range []string{"/readyz", "/readyz?verbose=0", "/readyz?verbose=false", "/readyz?other=1"} {
			status, _, body := get(t, b, path, "")
			require.Equal(t, http.StatusOK, status, path)
			require.Equal(t, map[string]any{"status": "ready"}, body, path)
		}
		b.mu.Lock()
		require.Zero(t, b.checkRan, "the plain probe runs no operator checks")
		b.ready = &api.NotReadyError{Reason: "database unreachable"}
		b.mu.Unlock()
		status, ct, body := get(t, b, "/readyz", "")
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.Equal(t, "application/problem+json", ct)
		require.Equal(t, "not_ready", body["code"])
		require.NotContains(t, body, "checks")
	})

	t.Run("VerboseNeedsAnAdminKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, true)
		status, _, body := get(t, b, "/readyz?verbose=1", "")
		require.Equal(t, http.StatusUnauthorized, status)
		require.Equal(t, "unauthenticated", body["code"])
		status, _, body = get(t, b, "/readyz?verbose=1", b.reader)
		require.Equal(t, http.StatusForbidden, status)
		require.Equal(t, "admin", body["requiredScope"])
		b.mu.Lock()
		defer b.mu.Unlock()
		require.Zero(t, b.checkRan)
	})

	t.Run("BadVerboseValue", func(t *testing.T) {
		t.Parallel()
		b := setup(t, true)
		for _, path := range []string{"/readyz?verbose=yes", "/readyz?verbose=1&verbose=1", "/readyz?verbose="} {
			status, _, body := get(t, b, path, b.admin)
			require.Equal(t, http.StatusUnprocessableEntity, status, path)
			require.Equal(t, "verbose", body["errors"].([]any)[0].(map[string]any)["field"], path)
		}
	})

	t.Run("VerboseAllFine", func(t *testing.T) {
		t.Parallel()
		b := setup(t, true)
		b.mu.Lock()
		b.checks = []api.ReadyCheck{
			{Name: "admin api", Status: api.ReadyOK, Detail: "answers"},
			{Name: "api key expiry", Status: api.ReadyWarn, Detail: "expires in 3 days: make a new key"},
		}
		b.mu.Unlock()
		for _, path := range []string{"/readyz?verbose=1", "/readyz?verbose=true"} {
			status, ct, body := get(t, b, path, b.admin)
			require.Equal(t, http.StatusOK, status, path)
			require.Equal(t, "application/json", ct)
			require.Equal(t, "ready", body["status"])
			require.Equal(t, []any{
				map[string]any{"name": "database", "status": "ok", "detail": "reachable, at the migrations this binary expects"},
				map[string]any{"name": "admin api", "status": "ok", "detail": "answers"},
				map[string]any{"name": "api key expiry", "status": "warn", "detail": "expires in 3 days: make a new key"},
			}, body["checks"], "a warning leaves it ready")
		}
	})

	t.Run("VerboseAFailure", func(t *testing.T) {
		t.Parallel()
		b := setup(t, true)
		b.mu.Lock()
		b.checks = []api.ReadyCheck{
			{Name: "permission account:oem-customer:rw", Status: api.ReadyFail, Detail: "missing: add it"},
		}
		b.ready = &api.NotReadyError{Reason: "database unreachable"}
		b.mu.Unlock()
		status, ct, body := get(t, b, "/readyz?verbose=1", b.admin)
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.Equal(t, "application/problem+json", ct)
		require.Equal(t, "not_ready", body["code"])
		require.Equal(t, "2 of 2 checks failed: database, permission account:oem-customer:rw; see checks", body["detail"])
		require.Equal(t, []any{
			map[string]any{"name": "database", "status": "fail", "detail": "database unreachable"},
			map[string]any{"name": "permission account:oem-customer:rw", "status": "fail", "detail": "missing: add it"},
		}, body["checks"])
	})

	t.Run("VerboseWithoutOperatorChecks", func(t *testing.T) {
		t.Parallel()
		b := setup(t, false)
		status, _, body := get(t, b, "/readyz?verbose=1", b.admin)
		require.Equal(t, http.StatusOK, status)
		require.Len(t, body["checks"], 1, "the database check alone")
	})
}

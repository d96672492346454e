package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

// TestMain runs the tests, or, when a test started this binary as a child process (see
// startProcess), the server itself, so that tests can kill a real process.
func TestMain(m *testing.M) {
	if args := os.Getenv(childArgsEnv); args != "" {
		os.Exit(childMain(strings.Fields(args)))
	}
	pgtest.Main(m, os.Getenv)
}

// runningServer is run() started in a goroutine, as a user would start the binary.
type runningServer struct {
	BaseURL        string
	Stdout, Stderr *logging.Buffer
	cancel         context.CancelFunc
	done           chan error
}

// startRun starts run with args (after the program name) and env, and stops it at cleanup.
// The address is a free loopback port unless env or args choose one.
func startRun(t *testing.T, args []string, env map[string]string) *runningServer {
	t.Helper()
	addr := freeAddr(t)
	env = withDefaults(env, map[string]string{"PNONBOARD_ADDR": addr})
	for i, a := range args {
		if a == "--addr" && i+1 < len(args) {
			addr = args[i+1]
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &runningServer{BaseURL: "http://" + addr, Stdout: &logging.Buffer{}, Stderr: &logging.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"server"}, args...), mapEnv(env), s.Stdout, s.Stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(60 * time.Second):
			t.Errorf("run did not return after cancel; stderr:\n%s", s.Stderr)
		}
	})
	return s
}

// stop cancels run (like Ctrl-C) and returns its error.
func (s *runningServer) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // let cleanup see it too
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("run did not return after cancel; stderr:\n%s", s.Stderr)
		return nil
	}
}

// waitReady polls /readyz until 200, failing with the server's logs after limit.
func (s *runningServer) waitReady(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err // for cleanup
			t.Fatalf("run returned early: %v\nstderr:\n%s", err, s.Stderr)
		default:
		}
		resp, err := http.Get(s.BaseURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not ready after %s; stderr:\n%s", limit, s.Stderr)
}

func (s *runningServer) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(s.BaseURL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

func mapEnv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func withDefaults(env, defaults map[string]string) map[string]string {
	out := make(map[string]string, len(env)+len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range env {
		out[k] = v
	}
	return out
}

func TestRunServe(t *testing.T) {
	t.Parallel()

	t.Run("ReadyAfterMigrateThenNotReadyWhenDatabaseGone", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmptyDB(t)
		env := serveEnv(db.URL)

		// Unmigrated: serve refuses to start, and says what to do.
		err := run(context.Background(), []string{"server", "serve"}, mapEnv(env), io.Discard, io.Discard)
		require.ErrorContains(t, err, "server migrate up")

		var out logging.Buffer
		require.NoError(t, run(context.Background(), []string{"server", "migrate", "up"}, mapEnv(env), &out, io.Discard))
		require.Contains(t, out.String(), "OK")

		srv := startRun(t, []string{"serve"}, env)
		srv.waitReady(t, 30*time.Second)

		// The database disappears under the running service: /readyz says so, /healthz does not.
		_, err = db.Pool.Exec(context.Background(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
		require.NoError(t, err)
		dropDatabase(t, db)
		code, body := srv.get(t, "/readyz")
		require.Equal(t, http.StatusServiceUnavailable, code, body)
		require.Contains(t, body, `"code":"not_ready"`)
		code, _ = srv.get(t, "/healthz")
		require.Equal(t, http.StatusOK, code)
	})

	t.Run("MigrateFlagAppliesMigrations", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmptyDB(t)
		srv := startRun(t, []string{"serve", "--migrate"}, serveEnv(db.URL))
		srv.waitReady(t, 30*time.Second)
		code, body := srv.get(t, "/openapi.yaml")
		require.Equal(t, http.StatusOK, code)
		require.True(t, strings.HasPrefix(body, "openapi: 3.1"))
		require.NoError(t, srv.stop(t))
		require.Contains(t, srv.Stderr.String(), `"msg":"stopped"`)
	})
}

// serveEnv is the least configuration serve needs (its PubNub is never called here).
func serveEnv(databaseURL string) map[string]string {
	return map[string]string{
		"DATABASE_URL":             databaseURL,
		"PNONBOARD_ENCRYPTION_KEY": secrets.NewKey(),
		"PNONBOARD_PUBNUB_API_KEY": "unused",
	}
}

// dropDatabase removes db's database from under its users, as an outage would.
func dropDatabase(t *testing.T, db *pgtest.DB) {
	t.Helper()
	db.Pool.Close()
	admin := strings.Replace(db.URL, "/"+db.Name, "/postgres", 1)
	conn, err := pgx.Connect(context.Background(), admin)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), fmt.Sprintf("DROP DATABASE %q WITH (FORCE)", db.Name))
	require.NoError(t, err)
}

func TestRunRoles(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)

	worker := startRun(t, []string{"serve"}, withDefaults(map[string]string{"PNONBOARD_ROLE": "worker"}, serveEnv(db.URL)))
	worker.waitReady(t, 30*time.Second)
	code, _ := worker.get(t, "/v1/tenants")
	require.Equal(t, http.StatusNotFound, code, "a worker replica serves no API")

	env := withDefaults(map[string]string{"PNONBOARD_ROLE": "api"}, serveEnv(db.URL))
	delete(env, "PNONBOARD_PUBNUB_API_KEY") // an API replica never calls PubNub
	apiOnly := startRun(t, []string{"serve"}, env)
	apiOnly.waitReady(t, 30*time.Second)
	code, _ = apiOnly.get(t, "/v1/tenants")
	require.Equal(t, http.StatusUnauthorized, code)
}

// TestWrongEncryptionKeyStopsStartUp: a key that cannot open what is stored (a keyset's
// secret key, a webhook signing secret, an Access Manager token, each alone) stops serve at
// once, with one line naming the variable, instead of failing requests one by one.
func TestWrongEncryptionKeyStopsStartUp(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"keyset", "webhook endpoint", "Access Manager token"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			e := startE2E(t, map[string]string{"PNONBOARD_WEBHOOK_ALLOW_HTTP": "true", "PNONBOARD_WEBHOOK_ALLOW_PRIVATE": "true"})
			switch kind {
			case "keyset":
				code, body := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "sealed", "name": "Sealed"}, "Prefer", "wait=30")
				require.Equal(t, string(tenants.StateActive), body["state"], "%d %v", code, body)
			case "webhook endpoint":
				code, body := e.call(t, http.MethodPost, "/v1/webhook-endpoints", map[string]any{"url": "http://127.0.0.1:9/hooks"})
				require.Equal(t, http.StatusCreated, code, "%v", body)
			default:
				code, body := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "sealed", "name": "Sealed", "environments": []string{"staging"}}, "Prefer", "wait=30")
				require.Equal(t, string(tenants.StateActive), body["state"], "%d %v", code, body)
				code, body = e.call(t, http.MethodPost, "/v1/tenants/sealed/tokens", map[string]any{
					"environment": "staging", "ttl": 30, "channels": map[string]any{"room": []string{"read"}}})
				require.Equal(t, http.StatusCreated, code, "%v", body)
			}
			require.NoError(t, e.srv.stop(t))
			if kind == "Access Manager token" { // the token is then the only secret stored
				tenantstest.SetSecret(t, e.db.Pool, tenantstest.ID(t, e.db.Pool, "sealed"), "staging", nil)
			}

			// A check that lets the wrong key through would serve until this ends.
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			env := serveEnv(e.db.URL) // a new, different key
			err := run(ctx, []string{"server", "serve"}, mapEnv(env), io.Discard, io.Discard)
			require.NoError(t, ctx.Err(), "start-up did not stop: %v", err)
			require.Error(t, err)
			require.Contains(t, err.Error(), "PNONBOARD_ENCRYPTION_KEY")
			require.Contains(t, err.Error(), kind)
			require.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

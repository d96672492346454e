package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/pglocal"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// TestPostgresRestartUnderLoad restarts Postgres (a fast shutdown, as `pg_ctl restart -m fast`)
// while tenants are being provisioned: /readyz answers 503 while it is down, and once it is
// back every tenant ends active, exactly once upstream, without anyone stepping in.
func TestPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("restarts a Postgres of its own: skipped with -short")
	}
	const n = 20
	ctx := context.Background()
	cluster, err := pglocal.Start(ctx, nil) // its own server: restarting the shared one would hit every test
	if err != nil {
		if ci := os.Getenv("CI"); ci == "true" || ci == "1" {
			t.Fatalf("local postgres: %v", err)
		}
		t.Skipf("no local PostgreSQL binaries: %v", err)
	}
	t.Cleanup(func() { _ = cluster.Stop(context.Background()) })
	admin, err := pgx.Connect(ctx, cluster.URL)
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "CREATE DATABASE pnonboard")
	require.NoError(t, err)
	require.NoError(t, admin.Close(ctx))
	dbURL := strings.Replace(cluster.URL, "/postgres?", "/pnonboard?", 1)
	env := serveEnv(dbURL)
	require.NoError(t, run(ctx, []string{"server", "migrate", "up"}, mapEnv(env), io.Discard, io.Discard))

	sb := sandbox.New(&sandbox.Opts{APIKey: "sandbox-key", RatePerMinute: -1, Latency: 150 * time.Millisecond})
	sbSrv := httptest.NewServer(sb)
	t.Cleanup(sbSrv.Close)
	env["PNONBOARD_PUBNUB_URL"] = sbSrv.URL + "/v2"
	env["PNONBOARD_PUBNUB_API_KEY"] = "sandbox-key"
	env["PNONBOARD_PUBNUB_RATE_PER_MINUTE"] = "60000"
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, key, err := auth.NewService(pool, nil).Create(ctx, auth.CreateParams{Name: "restart", Scopes: auth.AllScopes(), CreatedBy: auth.SystemActor("test")})
	require.NoError(t, err)

	srv := startRun(t, []string{"serve"}, env)
	srv.waitReady(t, 30*time.Second)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			code, body := callAPI(t, srv.BaseURL, key, http.MethodPost, "/v1/tenants", map[string]any{"externalId": fmt.Sprintf("pgr-%02d", i), "name": "Restart"})
			require.Equal(t, http.StatusAccepted, code, "%v", body)
		})
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond) // in the middle of the work

	sawDown := false
	require.NoError(t, cluster.Restart(ctx, func() {
		for range 10 {
			if code, _ := srv.get(t, "/readyz"); code == http.StatusServiceUnavailable {
				sawDown = true
			}
			time.Sleep(100 * time.Millisecond)
		}
	}))
	require.True(t, sawDown, "/readyz answered 503 while the database was down")

	var active int
	require.Eventually(t, func() bool {
		counts, err := tenants.CountByState(ctx, pool)
		if err != nil {
			return false // the test's own pool reconnects too
		}
		active = counts[tenants.StateActive]
		return active == n
	}, 90*time.Second, 100*time.Millisecond, "every tenant active after the restart (%d of %d)", active, n)
	code, _ := srv.get(t, "/readyz")
	require.Equal(t, http.StatusOK, code)

	names := map[string]int{}
	for _, a := range sb.Apps() {
		names[a.Name]++
	}
	for _, k := range sb.Keysets() {
		names[k.Name]++
	}
	for i := range n {
		id := fmt.Sprintf("pgr-%02d", i)
		require.Equal(t, 1, names[tenants.AppName(id)], id)
		for _, e := range []string{"development", "staging", "production"} {
			require.Equal(t, 1, names[tenants.KeysetName(id, e)], id+" "+e)
		}
	}
	require.Len(t, sb.Customers(), n)
}

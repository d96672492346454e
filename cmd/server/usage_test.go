package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

// TestRunServesUsage: serve wires the usage sync (its queue, its periodic job, which runs once
// at start, and its worker) and the usage routes behind usage:read.
func TestRunServesUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	sb := sandbox.New(&sandbox.Opts{APIKey: "sandbox-key", RatePerMinute: -1})
	up := httptest.NewServer(sb)
	t.Cleanup(up.Close)
	env := serveEnv(db.URL)
	env["PNONBOARD_PUBNUB_URL"], env["PNONBOARD_PUBNUB_API_KEY"] = up.URL+"/v2", "sandbox-key"
	env["PNONBOARD_USAGE_METRICS"] = "txn_total,mtd_uuid"
	srv := startRun(t, []string{"serve"}, env)
	srv.waitReady(t, 30*time.Second)

	require.Eventually(t, func() bool {
		var n int
		err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'usage_sync' AND queue = 'usage' AND state = 'completed'`).Scan(&n)
		return err == nil && n == 1
	}, 30*time.Second, 50*time.Millisecond, "the sync's first pass ran at start")

	_, key, err := auth.NewService(db.Pool, nil).Create(ctx, auth.CreateParams{Name: "usage", Scopes: []auth.Scope{auth.ScopeUsageRead}, CreatedBy: auth.SystemActor("test")})
	require.NoError(t, err)
	for accept, contentType := range map[string]string{"": "application/json", "text/csv": "text/csv; charset=utf-8"} {
		req, err := http.NewRequest(http.MethodGet, srv.BaseURL+"/v1/usage", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.Equal(t, contentType, resp.Header.Get("Content-Type"))
		if accept == "text/csv" {
			require.Equal(t, "externalId,name,state,complete,syncedThrough,txn_total,mtd_uuid\n", string(body), "the configured metrics are the columns")
		}
	}
}

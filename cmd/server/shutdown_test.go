package main

import (
	"fmt"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/tenants"
)

// TestDevModeCtrlCStopsWorkersBeforeSandbox stops dev mode, a real process, with SIGINT
// (Ctrl-C) while provisioning calls are in flight to its in-process sandbox (each call made
// slow). The soft stop lets the running jobs finish against a sandbox that is still there, so
// no timeline shows a made-up "no answer from PubNub ... connection refused"; after a restart
// every tenant ends active.
func TestDevModeCtrlCStopsWorkersBeforeSandbox(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("signals real processes: skipped with -short")
	}
	dir := devDataDir(t)
	env := map[string]string{
		"PNONBOARD_SANDBOX_API_KEY":         "devstop",
		"PNONBOARD_SANDBOX_LATENCY":         "200ms", // a tenant's five calls take a second: SIGINT lands mid-way
		"PNONBOARD_SANDBOX_RATE_PER_MINUTE": "-1",    // the budget is not what this test is about
		"PNONBOARD_PUBNUB_RATE_PER_MINUTE":  "6000",
		"PNONBOARD_SHUTDOWN_TIMEOUT":        "20s",
		"PNONBOARD_LOG_FORMAT":              "json",
	}
	const n = 30 // more than the 20 workers: some jobs run at the signal, some wait
	start := func() (*process, string, string) { t.Helper(); return startDevProcess(t, dir, env, 20*time.Second) }
	// progress counts the tenants that are active, and those that hold an app (their calls
	// have begun).
	progress := func(base, key string) (active, begun int) {
		t.Helper()
		_, body := callAPI(t, base, key, http.MethodGet, "/v1/tenants?limit=100", nil)
		for _, raw := range body["data"].([]any) {
			tn := raw.(map[string]any)
			if tn["state"] == string(tenants.StateActive) {
				active++
			}
			if id, _ := tn["appId"].(string); id != "" {
				begun++
			}
		}
		return active, begun
	}

	p, base, key := start()
	for i := range n {
		code, body := callAPI(t, base, key, http.MethodPost, "/v1/tenants", map[string]any{"externalId": fmt.Sprintf("stop-%02d", i), "name": "Stop"})
		require.Equal(t, http.StatusAccepted, code, "%v", body)
	}
	require.Eventually(t, func() bool { active, begun := progress(base, key); return begun > 0 && active < n }, 15*time.Second, 10*time.Millisecond,
		"provisioning under way")
	active, _ := progress(base, key)
	p.signal(syscall.SIGINT)
	require.NoError(t, p.wait(t, 30*time.Second), "Ctrl-C stops dev mode cleanly")
	require.Less(t, active, n, "the signal came mid-provisioning")

	p, base, key = start()
	require.Eventually(t, func() bool { active, _ := progress(base, key); return active == n }, 20*time.Second, 50*time.Millisecond,
		"every tenant active after the restart")

	upstreamErrors := 0
	for i := range n {
		ext := fmt.Sprintf("stop-%02d", i)
		code, body := callAPI(t, base, key, http.MethodGet, "/v1/tenants/"+url.PathEscape(ext)+"/events?limit=200", nil)
		require.Equal(t, http.StatusOK, code, "%v", body)
		require.Nil(t, body["nextCursor"], "the whole timeline fits one page")
		for _, raw := range body["data"].([]any) {
			ev := raw.(map[string]any)
			if ev["action"] != string(tenants.ActionUpstreamError) {
				continue
			}
			upstreamErrors++
			msg := fmt.Sprint(ev["detail"].(map[string]any)["error"])
			require.NotContains(t, msg, "connection refused", "%s: the workers called a sandbox already stopped: %v", ext, ev)
			require.NotContains(t, msg, "no answer from PubNub", "%s: a call cut off by the shutdown: %v", ext, ev)
		}
	}
	t.Logf("upstream_error events on %d timelines: %d", n, upstreamErrors)
	p.signal(syscall.SIGTERM)
	require.NoError(t, p.wait(t, 30*time.Second))
}

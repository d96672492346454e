package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

// TestBurstAtDefaultSettings signs up 60 customers at once, with workers running, on default
// settings (the sandbox allows PubNub's 120 calls a minute, the service budgets 120, 20
// workers), and requires all of them active at no less than 95 % of the budget's pace, with
// exactly one app, E keysets and one customer each upstream, and not one 429.
func TestBurstAtDefaultSettings(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("burst: about two and a half minutes; skipped with -short")
	}
	const (
		n         = 60
		envs      = 3
		perMinute = 120 // PubNub's limit, the default of both the sandbox and the budget
		minPace   = 0.95
	)
	e := startE2E(t, map[string]string{"PNONBOARD_PUBNUB_RATE_PER_MINUTE": ""})

	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			code, body := e.call(t, http.MethodPost, "/v1/tenants", map[string]any{"externalId": fmt.Sprintf("burst-%02d", i), "name": "Burst"})
			require.Equal(t, http.StatusAccepted, code, "%v", body)
		})
	}
	wg.Wait()

	ideal := time.Duration(float64(n*(envs+2)) / perMinute * float64(time.Minute))
	deadline := start.Add(time.Duration(float64(ideal) / minPace))
	var active int
	for {
		active = tenantstest.Count(t, e.db.Pool, tenants.StateActive)
		if active == n || time.Now().After(deadline.Add(time.Minute)) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	elapsed := time.Since(start)
	// The drift sweep that runs at start-up (background class) reads a few listings meanwhile.
	var sweep int
	require.NoError(t, e.db.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(calls), 0) FROM drift_runs`).Scan(&sweep))
	calls := e.sb.CallCount() - sweep
	pace := float64(ideal) / float64(elapsed)
	t.Logf("%d signups of %d environments: %d active after %.1f s (ideal %.1f s at %d calls/min): %.1f%% of the budget's pace; %d Admin API calls, %.2f per tenant",
		n, envs, active, elapsed.Seconds(), ideal.Seconds(), perMinute, 100*pace, calls, float64(calls)/n)
	require.Equal(t, n, active, "every signup provisioned")
	require.GreaterOrEqual(t, pace, minPace, "at no less than 95%% of the budget's pace")

	for _, c := range e.sb.Calls() {
		require.NotEqual(t, http.StatusTooManyRequests, c.Status, "no 429: %+v", c)
	}
	require.Equal(t, n*(envs+2), calls, "E+2 calls a tenant: nothing adopted, nothing wasted")
	names := map[string]int{}
	for _, a := range e.sb.Apps() {
		names[a.Name]++
	}
	for _, k := range e.sb.Keysets() {
		names[k.Name]++
	}
	for i := range n {
		id := fmt.Sprintf("burst-%02d", i)
		require.Equal(t, 1, names[tenants.AppName(id)], id)
		for _, env := range []string{"development", "staging", "production"} {
			require.Equal(t, 1, names[tenants.KeysetName(id, env)], id+" "+env)
		}
	}
	require.Len(t, e.sb.Customers(), n)
	require.Equal(t, n, e.sb.CallCount(sandbox.OpCreateCustomer))
}

package sandbox_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

func TestRouting(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, method, path string
	}{
		{"UnknownPath", http.MethodGet, "/v2/nothing"},
		{"WrongMethod", http.MethodDelete, "/v2/apps/1000001"},
		{"NotUnderV2", http.MethodGet, "/apps"},
		{"TrailingSlash", http.MethodGet, "/v2/apps/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb, _ := newSandbox(t, nil)

			res := do(t, sb, tt.method, tt.path, nil)

			body := requireError(t, res, http.StatusNotFound, "Cannot "+tt.method+" "+tt.path)
			require.Equal(t, "NotFound", body.Error)
			require.Equal(t, []sandbox.Operation{sandbox.OpUnknown}, ops(sb.Calls()))
		})
	}

	t.Run("UnknownPathNeedsAuthentication", func(t *testing.T) {
		t.Parallel()
		sb, _ := newSandbox(t, nil)

		requireError(t, do(t, sb, http.MethodGet, "/v2/nothing", nil, withoutHeader("Authorization")), http.StatusUnauthorized)
	})

	t.Run("MountedBehindStripPrefix", func(t *testing.T) {
		t.Parallel()
		sb, _ := newSandbox(t, nil)
		srv := httptest.NewServer(http.StripPrefix("/sandbox", sb))
		t.Cleanup(srv.Close)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/sandbox/v2/apps", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", testKey)
		req.Header.Set("PubNub-Version", testVersion)

		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()

		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "/v2/apps", sb.Calls()[0].Path)
	})
}

func TestCalls(t *testing.T) {
	t.Parallel()

	sb, clock := newSandbox(t, nil)
	createApp(t, sb, "a")
	clock.Advance(time.Second)
	do(t, sb, http.MethodGet, "/v2/apps?page=1&limit=100", nil, withoutHeader("Authorization"))
	do(t, sb, http.MethodGet, "/v2/apps?page=1&limit=100", nil)

	start := newFakeClock().Now()
	require.Equal(t, []sandbox.Call{
		{Op: sandbox.OpCreateApp, Method: http.MethodPost, Path: "/v2/apps", Status: http.StatusCreated, At: start},
		{Op: sandbox.OpListApps, Method: http.MethodGet, Path: "/v2/apps", Query: "page=1&limit=100", Status: http.StatusUnauthorized, At: start.Add(time.Second)},
		{Op: sandbox.OpListApps, Method: http.MethodGet, Path: "/v2/apps", Query: "page=1&limit=100", Status: http.StatusOK, At: start.Add(time.Second)},
	}, sb.Calls())
	require.Equal(t, 2, sb.CallCount(sandbox.OpListApps))
	require.Equal(t, 3, sb.CallCount(sandbox.OpListApps, sandbox.OpCreateApp))
	require.Equal(t, 3, sb.CallCount())
	require.Equal(t, 0, sb.CallCount(sandbox.OpCreateKeyset))
}

func TestInspectionReturnsCopies(t *testing.T) {
	t.Parallel()

	sb, _ := newSandbox(t, nil)
	app := createApp(t, sb, "app")
	createKeyset(t, sb, app.ID, map[string]any{"accessManager": map[string]any{"enabled": true, "tokenRevoke": true}})
	id := createKeysets(t, sb, 1)[0]
	do(t, sb, http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "t", "name": "T", "keysetIds": []int64{id}})

	keysets, customers, apps := sb.Keysets(), sb.Customers(), sb.Apps()
	*keysets[0].Config.AccessManager.TokenRevoke = false
	keysets[0].Config.AccessManager.Enabled = false
	keysets[0].SecretKeys[0].Value = "changed"
	customers[0].Keysets[0].ID = "changed"
	apps[0].Name = "changed"

	require.True(t, *sb.Keysets()[0].Config.AccessManager.TokenRevoke)
	require.True(t, sb.Keysets()[0].Config.AccessManager.Enabled)
	require.NotEqual(t, "changed", sb.Keysets()[0].SecretKeys[0].Value)
	require.Equal(t, fmt.Sprint(id), sb.Customers()[0].Keysets[0].ID)
	require.Equal(t, "app", sb.Apps()[0].Name)
}

func TestReset(t *testing.T) {
	t.Parallel()

	sb, _ := newSandbox(t, func(o *sandbox.Opts) { o.RatePerMinute = 100 })
	ids := createKeysets(t, sb, 1)
	do(t, sb, http.MethodPost, "/v2/oem/customers", map[string]any{"externalId": "t", "name": "T", "keysetIds": ids})
	sb.InjectFault(sandbox.OpAny, sandbox.Fault{Kind: sandbox.FaultServerError}, -1)

	sb.Reset()

	require.Empty(t, sb.Apps())
	require.Empty(t, sb.Keysets())
	require.Empty(t, sb.Customers())
	require.Empty(t, sb.Calls())
	res := do(t, sb, http.MethodPost, "/v2/apps", map[string]any{"name": "again"})
	require.Equal(t, "1000001", decode[appJSON](t, res, http.StatusCreated).ID, "IDs start over; faults are gone")
	require.Equal(t, "99", res.Header.Get("X-RateLimit-Remaining"), "the rate window starts over")
	require.Equal(t, testKey, sb.APIKey())
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()

	sb, _ := newSandbox(t, nil)
	app := createApp(t, sb, "app")
	const n = 40
	body := map[string]any{"keyset": map[string]any{"name": "ks", "appId": app.ID, "type": "testing"}}
	statuses := make(chan int, 2*n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { // no require in here: FailNow must run on the test goroutine
			statuses <- do(t, sb, http.MethodPost, "/v2/keysets", body).Status
			statuses <- do(t, sb, http.MethodGet, "/v2/keysets?limit=100", nil).Status
			_ = sb.Keysets()
			_ = sb.Calls()
		})
	}
	wg.Wait()
	close(statuses)

	for status := range statuses {
		require.Contains(t, []int{http.StatusCreated, http.StatusOK}, status)
	}

	seen := map[string]bool{}
	for _, ks := range sb.Keysets() {
		require.False(t, seen[ks.ID], "duplicate id %s", ks.ID)
		seen[ks.ID] = true
	}
	require.Len(t, seen, n)
	require.Equal(t, n, sb.CallCount(sandbox.OpCreateKeyset))
}

func TestLatency(t *testing.T) {
	t.Parallel()

	t.Run("Added", func(t *testing.T) {
		t.Parallel()
		sb, _ := newSandbox(t, func(o *sandbox.Opts) { o.Latency = 5 * time.Millisecond })
		start := time.Now()

		res := do(t, sb, http.MethodGet, "/v2/apps", nil)

		require.Equal(t, http.StatusOK, res.Status)
		require.GreaterOrEqual(t, time.Since(start), 5*time.Millisecond)
	})

	t.Run("EndsWithTheRequestContext", func(t *testing.T) {
		t.Parallel()
		sb, _ := newSandbox(t, func(o *sandbox.Opts) { o.Latency = time.Minute })
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Millisecond)
		defer cancel()

		do(t, sb, http.MethodPost, "/v2/apps", map[string]any{"name": "a"}, withContext(ctx))

		require.Empty(t, sb.Apps(), "a request abandoned during latency is not applied")
		require.Equal(t, 0, sb.Calls()[0].Status)
	})
}

func ops(calls []sandbox.Call) []sandbox.Operation {
	out := make([]sandbox.Operation, len(calls))
	for i, c := range calls {
		out[i] = c.Op
	}
	return out
}

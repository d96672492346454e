package api_test

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// tenantsSeries is the pnonboard_tenants sample for state.
func tenantsSeries(state tenants.State, n int) string {
	return fmt.Sprintf("pnonboard_tenants{state=%q} %d", state, n)
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.key(t, auth.ScopeAdmin)
	writer := ts.key(t, auth.ScopeTenantsWrite)
	require.Equal(t, http.StatusAccepted, ts.do(t, http.MethodPost, "/v1/tenants", writer, map[string]any{"externalId": "m1", "name": "M"}).Status)
	require.Equal(t, http.StatusNotFound, ts.do(t, http.MethodGet, "/v1/tenants/nobody", ts.key(t, auth.ScopeTenantsRead), nil).Status)

	require.Equal(t, http.StatusUnauthorized, ts.do(t, http.MethodGet, "/metrics", "", nil).Status)
	require.Equal(t, http.StatusForbidden, ts.do(t, http.MethodGet, "/metrics", writer, nil).Status)
	resp := ts.do(t, http.MethodGet, "/metrics", admin, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	body := string(resp.Body)
	for _, want := range []string{
		`pnonboard_http_request_duration_seconds_count{method="POST",route="/v1/tenants",status="202"} 1`,
		`pnonboard_http_request_duration_seconds_count{method="GET",route="/v1/tenants/{externalId}",status="404"} 1`,
		tenantsSeries(tenants.StatePending, 1),
		tenantsSeries(tenants.StateActive, 0),
		`pnonboard_database_up 1`,
		`go_goroutines`,
	} {
		require.Contains(t, body, want)
	}
	require.NotContains(t, body, admin[len("pno_abcdefgh_"):])
}

func TestJobUIAuth(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.key(t, auth.ScopeAdmin)
	support := ts.key(t, auth.ScopeTenantsRead, auth.ScopeTenantsWrite, auth.ScopeTenantsDisable, auth.ScopeWebhooksRead, auth.ScopeWebhooksWrite, auth.ScopeCredentialsRead)

	get := func(path string, set func(r *http.Request)) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodGet, ts.srv.URL+path, nil)
		require.NoError(t, err)
		if set != nil {
			set(req)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}
	basic := func(password string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth("support", password) }
	}

	resp, _ := get("/riverui/", nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "no key")
	require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic realm=", "browsers prompt for it")

	resp, _ = get("/riverui/", basic("pno_abcdefgh_"+strings.Repeat("A", 43)))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "wrong key")
	resp, _ = get("/riverui/", basic("not-even-a-key"))
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "garbage")

	resp, _ = get("/riverui/", basic(support))
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a key without admin, whatever else it holds")

	resp, body := get("/riverui/", basic(admin))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, body, "<html")
	resp, body = get("/riverui/api/jobs?state=available", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+admin) })
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `"data"`)

	// A mutating request from another origin is refused even with the credentials a browser
	// would send along by itself.
	req, err := http.NewRequest(http.MethodPost, ts.srv.URL+"/riverui/api/jobs/cancel", strings.NewReader(`{"ids":["1"]}`))
	require.NoError(t, err)
	req.SetBasicAuth("support", admin)
	req.Header.Set("Origin", "https://evil.example.com")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	xresp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	xresp.Body.Close()
	require.Equal(t, http.StatusForbidden, xresp.StatusCode)
}

// TestMetricsLabelsStayBounded sends thousands of odd requests (made-up methods, random paths,
// no key) and requires the request metric's series to stop growing: issue 11 saw 20,000 such
// requests take /metrics from 379 KB to 58 MB.
func TestMetricsLabelsStayBounded(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	admin := ts.key(t, auth.ScopeAdmin)
	rng := rand.New(rand.NewPCG(11, 11))
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
	word := func(n int) string {
		b := make([]byte, 1+rng.IntN(n))
		for i := range b {
			b[i] = letters[rng.IntN(len(letters))]
		}
		return string(b)
	}
	known := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	prefixes := []string{"/", "/v1/", "/v1/tenants/", "/v1/webhook-endpoints/", "/v1/api-keys/", "/riverui/api/"}
	send := func(n int) {
		for range n {
			method := known[rng.IntN(len(known))]
			if rng.IntN(2) == 0 {
				method = strings.ToUpper(word(12))
			}
			path := prefixes[rng.IntN(len(prefixes))] + word(20)
			if rng.IntN(3) == 0 {
				path += "/" + word(10)
			}
			req, err := http.NewRequest(method, ts.srv.URL+path, nil)
			require.NoError(t, err)
			resp, err := ts.srv.Client().Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Less(t, resp.StatusCode, 500, "%s %s", method, path)
		}
	}
	series := func() (int, int) {
		resp := ts.do(t, http.MethodGet, "/metrics", admin, nil)
		require.Equal(t, http.StatusOK, resp.Status)
		n := 0
		for _, line := range strings.Split(string(resp.Body), "\n") {
			if strings.HasPrefix(line, "pnonboard_http_request_duration_seconds_count{") {
				n++
				require.Regexp(t, `method="(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|other)"`, line)
				require.Regexp(t, `route="(unmatched|/[^"]*)"`, line)
				require.NotRegexp(t, `route="/(v1/tenants|v1/webhook-endpoints|v1/api-keys)/[^{]`, line, "a route label is a pattern, never a path")
			}
		}
		return n, len(resp.Body)
	}

	series() // the scrape itself is a series
	send(1000)
	before, size := series()
	send(3000)
	after, sizeAfter := series()
	require.Equal(t, before, after, "4000 odd requests; the series stopped at %d after the first 1000", before)
	require.LessOrEqual(t, before, 60)
	require.Less(t, sizeAfter, size+size/10)
	t.Logf("request metric: %d series after 1000 and after 4000 odd requests; /metrics %d bytes", after, sizeAfter)
}

package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDocs: /docs is the reference page, public, loading only this service's own renderer
// bundle under a policy that allows no other script source.
func TestDocs(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)

	t.Run("Page", func(t *testing.T) {
		t.Parallel()
		resp := ts.do(t, http.MethodGet, "/docs", "", nil)
		require.Equal(t, http.StatusOK, resp.Status)
		require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		body := string(resp.Body)
		require.Contains(t, body, `<redoc spec-url="/openapi.yaml">`)
		require.Contains(t, body, `<script src="/docs/redoc.standalone.js">`)
		require.NotContains(t, body, "http", "nothing from another host")
		csp := resp.Header.Get("Content-Security-Policy")
		require.Contains(t, csp, "script-src 'self';")
		require.NotContains(t, csp, "unsafe-eval")
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	})

	t.Run("Script", func(t *testing.T) {
		t.Parallel()
		resp := ts.do(t, http.MethodGet, "/docs/redoc.standalone.js", "", nil)
		require.Equal(t, http.StatusOK, resp.Status)
		require.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Greater(t, len(resp.Body), 500_000)
		require.True(t, strings.HasPrefix(string(resp.Body), "/*! For license information please see redoc.standalone.js.LICENSE.txt */"))
	})
}

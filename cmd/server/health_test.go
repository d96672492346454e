package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestHealth: server health, the image's HEALTHCHECK, exits 0 only when /healthz answers 200.
func TestHealth(t *testing.T) {
	t.Parallel()
	health := func(t *testing.T, env map[string]string, args ...string) (string, error) {
		t.Helper()
		var stdout bytes.Buffer
		err := run(t.Context(), append([]string{"server", "health"}, args...), mapEnv(env), &stdout, &bytes.Buffer{})
		return stdout.String(), err
	}
	serving := func(t *testing.T, status int) string {
		t.Helper()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}

	t.Run("Healthy", func(t *testing.T) {
		t.Parallel()
		out, err := health(t, nil, "--addr", serving(t, http.StatusOK))
		require.NoError(t, err)
		require.Contains(t, out, "answered 200")
	})

	t.Run("UnhealthyAnswer", func(t *testing.T) {
		t.Parallel()
		addr := serving(t, http.StatusServiceUnavailable)
		_, err := health(t, nil, "--addr", addr)
		require.EqualError(t, err, "health: GET http://"+addr+"/healthz answered 503")
	})

	t.Run("NothingListens", func(t *testing.T) {
		t.Parallel()
		_, err := health(t, nil, "--addr", freeAddr(t), "--timeout", "1s")
		require.ErrorContains(t, err, "connection refused")
	})

	t.Run("DefaultsToPNONBOARD_ADDROnLoopback", func(t *testing.T) {
		t.Parallel()
		addr := serving(t, http.StatusOK)
		port := addr[strings.LastIndex(addr, ":"):]
		for _, env := range []string{port, "0.0.0.0" + port} {
			out, err := health(t, map[string]string{"PNONBOARD_ADDR": env})
			require.NoError(t, err, env)
			require.Contains(t, out, "http://127.0.0.1"+port+"/healthz", env)
		}
		_, err := health(t, map[string]string{"PNONBOARD_ADDR": "nonsense"})
		require.ErrorContains(t, err, "PNONBOARD_ADDR")
	})

	t.Run("TheSandboxToo", func(t *testing.T) {
		t.Parallel()
		addr := freeAddr(t)
		startRun(t, []string{"sandbox", "--addr", addr}, map[string]string{"PNONBOARD_SANDBOX_API_KEY": "k"})
		require.Eventually(t, func() bool {
			_, err := health(t, nil, "--addr", addr)
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "server sandbox answers /healthz, for compose's health check")
	})

	t.Run("TheServer", func(t *testing.T) {
		t.Parallel()
		e := startE2E(t, nil)
		out, err := health(t, nil, "--addr", strings.TrimPrefix(e.srv.BaseURL, "http://"))
		require.NoError(t, err)
		require.Contains(t, out, "answered 200")
	})
}

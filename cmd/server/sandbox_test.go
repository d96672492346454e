package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRunSandbox(t *testing.T) {
	t.Parallel()

	t.Run("ServesTheAdminAPIWithItsKey", func(t *testing.T) {
		t.Parallel()
		addr := freeAddr(t)
		srv := startRun(t, []string{"sandbox", "--addr", addr}, map[string]string{
			"PNONBOARD_SANDBOX_API_KEY": "sandbox-key", "PNONBOARD_SANDBOX_RATE_PER_MINUTE": "3",
		})
		get := func(key string) *http.Response {
			req, err := http.NewRequest(http.MethodGet, srv.BaseURL+"/v2/apps", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", key)
			req.Header.Set("PubNub-Version", "2026-02-09")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp
		}
		require.Eventually(t, func() bool {
			resp, err := http.Get(srv.BaseURL + "/v2/apps")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil
		}, 10*time.Second, 10*time.Millisecond)

		require.Equal(t, http.StatusUnauthorized, get("wrong").StatusCode, "it accepts only its key")
		for i := range 3 {
			require.Equal(t, http.StatusOK, get("sandbox-key").StatusCode, "request %d", i+1)
		}
		resp := get("sandbox-key")
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "PNONBOARD_SANDBOX_RATE_PER_MINUTE applies")
		require.NotEmpty(t, resp.Header.Get("X-RateLimit-Reset"))
		require.NoError(t, srv.stop(t))
	})

	t.Run("GeneratedKeyIsPrinted", func(t *testing.T) {
		t.Parallel()
		srv := startRun(t, []string{"sandbox", "--addr", freeAddr(t)}, nil)
		require.Eventually(t, func() bool { return strings.Contains(srv.Stdout.String(), "sandbox API key") }, 10*time.Second, 10*time.Millisecond)
		require.NoError(t, srv.stop(t))
	})

	t.Run("BadConfigNamesTheVariable", func(t *testing.T) {
		t.Parallel()
		for variable, value := range map[string]string{
			"PNONBOARD_SANDBOX_FAULTS":          "5xx=2",
			"PNONBOARD_SANDBOX_LATENCY":         "slow",
			"PNONBOARD_SANDBOX_RATE_PER_MINUTE": "many",
			"PNONBOARD_SANDBOX_SEED":            "x",
		} {
			_, err := parseSandboxConfig(mapEnv(map[string]string{variable: value}))
			require.ErrorContains(t, err, variable)
		}
		cfg, err := parseSandboxConfig(mapEnv(map[string]string{"PNONBOARD_SANDBOX_FAULTS": "5xx=0.1,lost=0.05,timeout=0.02", "PNONBOARD_SANDBOX_LATENCY": "20ms"}))
		require.NoError(t, err)
		require.Equal(t, 0.05, cfg.Faults.Lost)
		require.Equal(t, 20*time.Millisecond, cfg.Latency)
	})
}

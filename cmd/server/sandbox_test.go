package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
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
			"PNONBOARD_SANDBOX_PERMISSIONS":     "account:channel:rw",
			"PNONBOARD_SANDBOX_USAGE_SHAPE":     "list",
		} {
			_, err := parseSandboxConfig(mapEnv(map[string]string{variable: value}))
			require.ErrorContains(t, err, variable)
		}
		_, err := parseSandboxConfig(mapEnv(map[string]string{"PNONBOARD_SANDBOX_FAULTS": "403@POST /nothing"}))
		require.ErrorContains(t, err, `PNONBOARD_SANDBOX_FAULTS: parse faults "403@POST /nothing": unknown operation "POST /nothing"`)
		cfg, err := parseSandboxConfig(mapEnv(map[string]string{"PNONBOARD_SANDBOX_FAULTS": "5xx=0.1,lost=0.05,timeout=0.02", "PNONBOARD_SANDBOX_LATENCY": "20ms"}))
		require.NoError(t, err)
		require.Equal(t, 0.05, cfg.Faults.Lost)
		require.Equal(t, 20*time.Millisecond, cfg.Latency)
	})

	t.Run("ParsesEveryVariable", func(t *testing.T) {
		t.Parallel()

		cfg, err := parseSandboxConfig(mapEnv(map[string]string{
			"PNONBOARD_SANDBOX_FAULTS":      "5xx=0.1,403=0.1,400=0.1,403@POST /keysets=0.5",
			"PNONBOARD_SANDBOX_PERMISSIONS": "account:app:rw,account:keyset:rw,account:secret-key:rw,account:oem-customer:rw",
			"PNONBOARD_SANDBOX_USAGE_SHAPE": "array",
			"PNONBOARD_SANDBOX_STATE_FILE":  "/data/sandbox.json",
		}))

		require.NoError(t, err)
		require.Equal(t, "5xx=0.1,403=0.1,400=0.1,403@CreateKeyset=0.5", cfg.Faults.String())
		require.Equal(t, "[account:app:rw account:keyset:rw account:secret-key:rw account:oem-customer:rw]", fmt.Sprint(cfg.Permissions))
		require.Equal(t, sandbox.UsageShapeArray, cfg.UsageShape)
		require.Equal(t, "/data/sandbox.json", cfg.StateFile)
		opts := cfg.options()
		require.Empty(t, opts.StateFile, "options leave the state file to open")
		require.Equal(t, cfg.Permissions, opts.Permissions)
		defaults, err := parseSandboxConfig(mapEnv(nil))
		require.NoError(t, err)
		require.Nil(t, defaults.Permissions, "full access by default")
		require.Empty(t, defaults.StateFile)
	})

	t.Run("HelpExitsZero", func(t *testing.T) {
		t.Parallel()
		for _, flag := range []string{"--help", "-h"} {
			var stdout, stderr bytes.Buffer

			err := run(t.Context(), []string{"server", "sandbox", flag}, mapEnv(nil), &stdout, &stderr)

			require.NoError(t, err)
			require.Contains(t, stdout.String(), "usage: server sandbox [--addr ADDR] [--state FILE]")
			require.Contains(t, stdout.String(), "--state FILE")
			require.Contains(t, stdout.String(), "PNONBOARD_SANDBOX_PERMISSIONS")
			require.Empty(t, stderr.String())
		}
	})

	t.Run("StateSurvivesARestart", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "sandbox.json")
		env := map[string]string{"PNONBOARD_SANDBOX_API_KEY": "k", "PNONBOARD_SANDBOX_STATE_FILE": filepath.Join(t.TempDir(), "ignored.json")}
		call := func(t *testing.T, base, method, path, body string) (int, string) {
			t.Helper()
			req, err := http.NewRequest(method, base+path, strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Authorization", "k")
			req.Header.Set("PubNub-Version", "2026-02-09")
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return resp.StatusCode, string(raw)
		}
		start := func(t *testing.T) *runningServer {
			t.Helper()
			srv := startRun(t, []string{"sandbox", "--addr", freeAddr(t), "--state", path}, env)
			require.Eventually(t, func() bool {
				resp, err := http.Get(srv.BaseURL + "/v2/apps")
				if err == nil {
					resp.Body.Close()
				}
				return err == nil
			}, 10*time.Second, 10*time.Millisecond)
			return srv
		}

		first := start(t)
		status, body := call(t, first.BaseURL, http.MethodPost, "/v2/apps", `{"name":"kept"}`)
		require.Equal(t, http.StatusCreated, status, body)
		require.NoError(t, first.stop(t))
		second := start(t)

		status, body = call(t, second.BaseURL, http.MethodGet, "/v2/apps", "")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `"name":"kept"`)
		status, body = call(t, second.BaseURL, http.MethodPost, "/v2/apps", `{"name":"next"}`)
		require.Equal(t, http.StatusCreated, status)
		require.Contains(t, body, `"id":"1000002"`, "IDs continue")
		require.NoFileExists(t, env["PNONBOARD_SANDBOX_STATE_FILE"], "--state wins over the variable")
		require.NoError(t, second.stop(t))
	})

	t.Run("CorruptStateFails", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "sandbox.json")
		require.NoError(t, os.WriteFile(path, []byte("{oops"), 0o600))

		err := run(t.Context(), []string{"server", "sandbox", "--addr", freeAddr(t)}, mapEnv(map[string]string{"PNONBOARD_SANDBOX_STATE_FILE": path}), io.Discard, io.Discard)

		require.ErrorContains(t, err, "sandbox state file "+path+" is corrupt")
	})

	t.Run("PermissionsApply", func(t *testing.T) {
		t.Parallel()
		srv := startRun(t, []string{"sandbox", "--addr", freeAddr(t)}, map[string]string{
			"PNONBOARD_SANDBOX_API_KEY": "k", "PNONBOARD_SANDBOX_PERMISSIONS": "account:app:rw",
		})
		var resp *http.Response
		require.Eventually(t, func() bool {
			req, err := http.NewRequest(http.MethodGet, srv.BaseURL+"/v2/oem/customers", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "k")
			req.Header.Set("PubNub-Version", "2026-02-09")
			resp, err = http.DefaultClient.Do(req)
			return err == nil
		}, 10*time.Second, 10*time.Millisecond)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)

		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.JSONEq(t, `{"statusCode":403,"error":"Forbidden","message":["Service Integration lacks permission account:oem-customer:r"]}`, string(raw))
		require.NoError(t, srv.stop(t))
	})
}

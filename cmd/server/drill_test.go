package main

import (
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/tenants"
)

// TestDevFailureDrill is README's failure drill: dev mode with PNONBOARD_SANDBOX_FAULTS=403@POST
// /keysets (the variable reaches dev mode's sandbox) fails a signup for good, lastError says why;
// dev mode started again without the fault (the sandbox keeps its state) finishes it on retry.
func TestDevFailureDrill(t *testing.T) {
	t.Parallel()
	dir := devDataDir(t)
	args := []string{"dev", "--addr", freeAddr(t), "--data-dir", dir}
	srv := startRun(t, args, map[string]string{"PNONBOARD_SANDBOX_FAULTS": "403@POST /keysets"})
	srv.waitReady(t, 60*time.Second)
	key := readDevKey(t, dir)

	status, tn := callAPI(t, srv.BaseURL, key, http.MethodPost, "/v1/tenants", map[string]any{"externalId": "acme", "name": "Acme"}, "Prefer", "wait=30")
	require.Equal(t, http.StatusAccepted, status, "%v", tn)
	require.Equal(t, string(tenants.StateFailed), tn["state"], "%v", tn)
	require.True(t, strings.HasPrefix(tn["failedStep"].(string), "create_keyset"), "%v", tn)
	require.Contains(t, tn["lastError"], "PubNub refused create keyset with 403 Forbidden: Injected 403 fault")
	require.NoError(t, srv.stop(t))

	srv = startRun(t, args, nil)
	srv.waitReady(t, 60*time.Second)
	status, _ = callAPI(t, srv.BaseURL, key, http.MethodPost, "/v1/tenants/acme/retry", nil)
	require.Equal(t, http.StatusAccepted, status)
	var last map[string]any
	require.Eventually(t, func() bool {
		_, last = callAPI(t, srv.BaseURL, key, http.MethodGet, "/v1/tenants/acme", nil)
		return last["state"] == string(tenants.StateActive)
	}, 30*time.Second, 50*time.Millisecond, "%v", last)
	require.NoError(t, srv.stop(t))
}

// TestDevBusyAddress: dev mode on an address in use fails at once, before starting Postgres,
// naming the address and how to choose another.
func TestDevBusyAddress(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	addr := busy.Addr().String()
	dir := filepath.Join(t.TempDir(), "devdata")

	err = run(t.Context(), []string{"server", "dev", "--addr", addr, "--data-dir", dir}, mapEnv(nil), io.Discard, io.Discard)

	require.ErrorContains(t, err, "listen on "+addr+": the address is already in use")
	require.ErrorContains(t, err, "make run ADDR=")
	require.NoFileExists(t, filepath.Join(dir, "postgres"), "no Postgres was started")
}

// TestDevMakeRunAddr: make run passes ADDR to server dev --addr, with 127.0.0.1:8080 by default.
func TestDevMakeRunAddr(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make here")
	}
	dryRun := func(args ...string) string {
		out, err := exec.Command("make", append([]string{"-C", "../..", "-n", "run"}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	require.Contains(t, dryRun("ADDR=127.0.0.1:8181"), "bin/server dev --addr 127.0.0.1:8181\n")
	require.Contains(t, dryRun(), "bin/server dev --addr 127.0.0.1:8080\n")
}

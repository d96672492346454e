package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pglocal"
)

// devDataDir returns a data dir the postgres OS user can reach when we are root.
func devDataDir(t *testing.T) string {
	t.Helper()
	if _, err := pglocal.FindBinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	tmp := t.TempDir()
	require.NoError(t, os.Chmod(tmp, 0o711))
	require.NoError(t, os.Chmod(filepath.Dir(tmp), 0o711))
	return filepath.Join(tmp, "devdata")
}

// postgresRunningOn reports whether any postgres process serves dataDir.
func postgresRunningOn(t *testing.T, dataDir string) bool {
	t.Helper()
	out, _ := exec.Command("pgrep", "-f", "postgres -D "+dataDir).Output()
	return strings.TrimSpace(string(out)) != ""
}

// TestRunDevWalkthrough is the README's walk-through, as a new user would do it.
func TestRunDevWalkthrough(t *testing.T) {
	t.Parallel()
	dir := devDataDir(t)
	srv := startRun(t, []string{"dev", "--addr", freeAddr(t), "--data-dir", dir}, map[string]string{"PNONBOARD_SANDBOX_API_KEY": "walkthrough"})
	srv.waitReady(t, 60*time.Second)
	keyBytes, err := os.ReadFile(filepath.Join(dir, "api-key"))
	require.NoError(t, err)
	key := strings.TrimSpace(string(keyBytes))

	do := func(method, path, auth string, body string, headers ...string) (int, string) {
		req, err := http.NewRequest(method, srv.BaseURL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", auth)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	status, body := do(http.MethodPost, "/v1/tenants", "Bearer "+key, `{"externalId": "acme", "name": "Acme Corp"}`,
		"Content-Type", "application/json", "Prefer", "wait=30")
	require.Equal(t, http.StatusAccepted, status, body)
	require.Contains(t, body, `"state":"active"`)

	pn := []string{"PubNub-Version", "2026-02-09"}
	status, body = do(http.MethodGet, "/sandbox/v2/apps", "walkthrough", "", pn...)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"name":"pnonboard-acme"`)
	status, body = do(http.MethodGet, "/sandbox/v2/keysets", "walkthrough", "", pn...)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, 3, strings.Count(body, `"name":"pnonboard-acme-`))
	status, body = do(http.MethodGet, "/sandbox/v2/oem/customers", "walkthrough", "", pn...)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"externalId":"acme"`)
	require.NoError(t, srv.stop(t))

	// The next run finds the sandbox as it was, so the tenant can still be disabled.
	srv = startRun(t, []string{"dev", "--addr", freeAddr(t), "--data-dir", dir}, map[string]string{"PNONBOARD_SANDBOX_API_KEY": "walkthrough"})
	srv.waitReady(t, 60*time.Second)
	status, body = do(http.MethodGet, "/sandbox/v2/oem/customers", "walkthrough", "", pn...)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"externalId":"acme"`)
	status, body = do(http.MethodPost, "/v1/tenants/acme/disable", "Bearer "+key, "")
	require.Equal(t, http.StatusAccepted, status, body)
	require.Eventually(t, func() bool {
		_, body := do(http.MethodGet, "/v1/tenants/acme", "Bearer "+key, "")
		return strings.Contains(body, `"state":"disabled"`)
	}, 30*time.Second, 50*time.Millisecond)
	require.NoError(t, srv.stop(t))
}

// TestRunDevFromAPrivateCheckout: as root, with the checkout somewhere the postgres OS user
// cannot reach (like /root), make run still works: the cluster lives under /var/lib behind a
// symlink in the data dir.
func TestRunDevFromAPrivateCheckout(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("only root hands the server to another user")
	}
	devDataDir(t) // skips or fails without binaries
	private := t.TempDir()
	require.NoError(t, os.Chmod(private, 0o700)) // like /root
	dir := filepath.Join(private, "devdata")
	srv := startRun(t, []string{"dev", "--addr", freeAddr(t), "--data-dir", dir}, nil)
	srv.waitReady(t, 60*time.Second)
	target, err := os.Readlink(filepath.Join(dir, "postgres"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(target, "/var/lib/pnonboard/dev-"))
	t.Cleanup(func() { _ = os.RemoveAll(target) })
	require.NoError(t, srv.stop(t))
	require.False(t, postgresRunningOn(t, filepath.Join(target, "data")))

	// And the next run reuses it.
	srv = startRun(t, []string{"dev", "--addr", freeAddr(t), "--data-dir", dir}, nil)
	srv.waitReady(t, 60*time.Second)
	require.Contains(t, srv.Stderr.String(), "reused=true")
	require.NoError(t, srv.stop(t))
}

func TestRunDev(t *testing.T) {
	t.Parallel()
	dir := devDataDir(t)
	pgData := filepath.Join(dir, "postgres", "data")

	// First run: creates the cluster and serves.
	srv := startRun(t, []string{"dev", "--addr", freeAddr(t), "--data-dir", dir}, nil)
	srv.waitReady(t, 60*time.Second)
	require.Contains(t, srv.Stdout.String(), "pnonboard dev mode is up")
	require.Contains(t, srv.Stderr.String(), "reused=false")
	require.True(t, postgresRunningOn(t, pgData))

	// Ctrl-C: the service and its Postgres are gone.
	require.NoError(t, srv.stop(t))
	require.False(t, postgresRunningOn(t, pgData), "no postgres may outlive dev mode")

	// Second run: reuses the data dir.
	srv = startRun(t, []string{"dev", "--addr", freeAddr(t), "--data-dir", dir}, nil)
	srv.waitReady(t, 60*time.Second)
	require.Contains(t, srv.Stderr.String(), "reused=true")
	require.NoError(t, srv.stop(t))
	require.False(t, postgresRunningOn(t, pgData))
}

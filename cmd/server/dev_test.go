package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pglocal"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
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
	key := readDevKey(t, dir)

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
	require.Contains(t, body, `"state":"`+string(tenants.StateActive)+`"`)

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
		return strings.Contains(body, `"state":"`+string(tenants.StateDisabled)+`"`)
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

// startDevProcess starts dev mode on dir as a real process, once the last run's postgres there
// has stopped (waited for up to stopped), and returns it, its base URL and its API key.
func startDevProcess(t *testing.T, dir string, env map[string]string, stopped time.Duration) (*process, string, string) {
	t.Helper()
	require.Eventually(t, func() bool { return !postgresRunningOn(t, filepath.Join(dir, "postgres", "data")) }, stopped, 50*time.Millisecond,
		"the last run's postgres has stopped")
	p := startProcess(t, []string{"dev", "--addr", "127.0.0.1:0", "--data-dir", dir}, env)
	addr, _ := p.listening(t)
	return p, "http://" + addr, readDevKey(t, dir)
}

// readDevKey is the API key dev mode keeps in dir/api-key.
func readDevKey(t *testing.T, dir string) string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(dir, "api-key"))
	require.NoError(t, err)
	return strings.TrimSpace(string(key))
}

// TestDevModeSurvivesKillAndHangup provisions in dev mode as a real process, kills it with
// SIGKILL in the middle, starts it again, closes its terminal (SIGHUP) in the middle of more,
// and starts it a third time: every tenant ends active, no upstream ID is held twice, and the
// sandbox holds exactly what the database says.
func TestDevModeSurvivesKillAndHangup(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills real processes: skipped with -short")
	}
	dir := devDataDir(t)
	env := map[string]string{
		"PNONBOARD_SANDBOX_API_KEY": "devkill",
		"PNONBOARD_SANDBOX_LATENCY": "150ms", // a tenant takes about a second: the signals land mid-way
		"PNONBOARD_LOG_FORMAT":      "json",
	}
	ctx := context.Background()
	start := func() (*process, string, string) { t.Helper(); return startDevProcess(t, dir, env, 60*time.Second) }
	signup := func(url, key string, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			code, body := callAPI(t, url, key, http.MethodPost, "/v1/tenants", map[string]any{"externalId": fmt.Sprintf("dev-%02d", i), "name": "Dev"})
			require.Equal(t, http.StatusAccepted, code, "%v", body)
		}
	}
	activeCount := func(url, key string) int {
		_, body := callAPI(t, url, key, http.MethodGet, "/v1/tenants?state="+string(tenants.StateActive)+"&limit=100", nil)
		return len(body["data"].([]any))
	}
	midway := func(url, key string, total int) {
		t.Helper()
		require.Eventually(t, func() bool { n := activeCount(url, key); return n > 0 && n < total }, 60*time.Second, 10*time.Millisecond,
			"some but not all active")
	}

	p, url, key := start()
	signup(url, key, 0, 20)
	midway(url, key, 20)
	p.kill(t)

	p, url, key = start()
	signup(url, key, 20, 30)
	midway(url, key, 30)
	p.signal(syscall.SIGHUP)
	require.NoError(t, p.wait(t, 60*time.Second), "SIGHUP stops dev mode like Ctrl-C")

	p, url, key = start()
	require.Eventually(t, func() bool { return activeCount(url, key) == 30 }, 90*time.Second, 100*time.Millisecond, "every tenant active")

	// The database and the sandbox agree, one for one.
	dbURL, err := os.ReadFile(filepath.Join(dir, "database-url"))
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, strings.TrimSpace(string(dbURL)))
	require.NoError(t, err)
	defer conn.Close(ctx)
	type held struct{ ext, app, customer string }
	type keyset struct{ ext, env, id string }
	var tenantsHeld []held
	var keysetsHeld []keyset
	for _, tn := range tenantstest.All(t, conn) {
		tenantsHeld = append(tenantsHeld, held{tn.ExternalID, tn.AppID, tn.CustomerID})
		for _, k := range tn.Keysets {
			keysetsHeld = append(keysetsHeld, keyset{tn.ExternalID, k.Environment, k.KeysetID})
		}
	}
	require.Len(t, tenantsHeld, 30)

	var file struct {
		State struct {
			Apps      []struct{ ID, Name string }
			Keysets   []struct{ ID, Name, AppID, CustomerID string }
			Customers []struct{ ID, ExternalID string }
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "sandbox.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &file))
	state := file.State
	require.Len(t, state.Apps, 30, "one app a tenant upstream")
	require.Len(t, state.Keysets, 90)
	require.Len(t, state.Customers, 30)
	apps, customers := map[string]string{}, map[string]string{}
	for _, a := range state.Apps {
		apps[a.ID] = a.Name
	}
	for _, c := range state.Customers {
		customers[c.ID] = c.ExternalID
	}
	seen := map[string]bool{}
	for _, h := range tenantsHeld {
		require.False(t, seen[h.app] || seen[h.customer], "an ID held twice")
		seen[h.app], seen[h.customer] = true, true
		require.Equal(t, tenants.AppName(h.ext), apps[h.app])
		require.Equal(t, h.ext, customers[h.customer])
	}
	upstream := map[string]struct{ Name, AppID, CustomerID string }{}
	for _, k := range state.Keysets {
		upstream[k.ID] = struct{ Name, AppID, CustomerID string }{k.Name, k.AppID, k.CustomerID}
	}
	byExt := map[string]held{}
	for _, h := range tenantsHeld {
		byExt[h.ext] = h
	}
	for _, k := range keysetsHeld {
		require.False(t, seen[k.id], "keyset %s held twice", k.id)
		seen[k.id] = true
		up := upstream[k.id]
		require.Equal(t, tenants.KeysetName(k.ext, k.env), up.Name)
		require.Equal(t, byExt[k.ext].app, up.AppID)
		require.Equal(t, byExt[k.ext].customer, up.CustomerID)
	}
	p.signal(syscall.SIGTERM)
	require.NoError(t, p.wait(t, 60*time.Second))
}

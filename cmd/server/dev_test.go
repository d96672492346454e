package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pgtest/pglocal"
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

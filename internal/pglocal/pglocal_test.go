package pglocal_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pglocal"
)

func requireBinaries(t *testing.T) {
	t.Helper()
	if _, err := pglocal.FindBinDir(); errors.Is(err, pglocal.ErrNoBinaries) {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx := context.Background()

	t.Run("ThrowawayClusterIsRemovedOnStop", func(t *testing.T) {
		t.Parallel()
		c, err := pglocal.Start(ctx, nil)
		require.NoError(t, err)
		require.False(t, c.Reused)

		conn, err := pgx.Connect(ctx, c.URL)
		require.NoError(t, err)
		var fsync string
		require.NoError(t, conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync))
		require.Equal(t, "off", fsync)
		require.NoError(t, conn.Close(ctx))

		pid := c.PID()
		require.NoError(t, c.Stop(ctx))
		require.NoDirExists(t, filepath.Dir(c.DataDir))
		require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "postgres must be gone after Stop")
	})

	t.Run("DataDirIsReusedAndKept", func(t *testing.T) {
		t.Parallel()
		tmp := t.TempDir()
		// t.TempDir is private to us; the server may run as another user (root → postgres).
		require.NoError(t, os.Chmod(tmp, 0o711))
		require.NoError(t, os.Chmod(filepath.Dir(tmp), 0o711))
		dir := filepath.Join(tmp, "pg")

		c, err := pglocal.Start(ctx, &pglocal.Opts{DataDir: dir, Durable: true})
		require.NoError(t, err)
		conn, err := pgx.Connect(ctx, c.URL)
		require.NoError(t, err)
		_, err = conn.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))

		// A second start while the first runs is refused: one server per data dir.
		_, err = pglocal.Start(ctx, &pglocal.Opts{DataDir: dir, Durable: true})
		require.ErrorContains(t, err, "already running")

		require.NoError(t, c.Stop(ctx))
		require.DirExists(t, c.DataDir)

		c2, err := pglocal.Start(ctx, &pglocal.Opts{DataDir: dir, Durable: true})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c2.Stop(context.Background()) })
		require.True(t, c2.Reused)
		conn, err = pgx.Connect(ctx, c2.URL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		var v int
		require.NoError(t, conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v))
		require.Equal(t, 42, v)
	})

	t.Run("UnreachableDataDirFailsWithTheFix", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() != 0 {
			t.Skip("only root hands the server to another user")
		}
		tmp := t.TempDir() // mode 0700, owned by root
		_, err := pglocal.Start(ctx, &pglocal.Opts{DataDir: filepath.Join(tmp, "pg")})
		require.ErrorContains(t, err, "chmod o+x")
	})

	t.Run("RunsInItsOwnProcessGroup", func(t *testing.T) {
		t.Parallel()
		c, err := pglocal.Start(ctx, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Stop(context.Background()) })
		// The server runs in its own process group, so a Ctrl-C sent to ours does not reach it.
		pgid, err := syscall.Getpgid(c.PID())
		require.NoError(t, err)
		require.Equal(t, c.PID(), pgid)
		require.NotEqual(t, syscall.Getpgrp(), pgid)
		select {
		case <-c.Exited():
			t.Fatal("server exited early")
		case <-time.After(10 * time.Millisecond):
		}
	})
}

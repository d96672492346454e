package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/pgtest"
)

func TestRunAPIKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	runCmd := func(t *testing.T, env map[string]string, args ...string) (string, string, error) {
		t.Helper()
		var stdout, stderr logging.Buffer
		err := run(ctx, append([]string{"server", "apikey"}, args...), mapEnv(env), &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}

	t.Run("CreateListRevoke", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		env := map[string]string{"DATABASE_URL": db.URL}

		out, _, err := runCmd(t, env, "create", "--name", "acme", "--scopes", "tenants:read, tenants:write", "--expires-in", "30d")
		require.NoError(t, err)
		key := strings.TrimSpace(out)
		require.Equal(t, out, key+"\n", "stdout holds only the key")
		got, err := auth.NewService(db.Pool, nil).Authenticate(ctx, key)
		require.NoError(t, err)
		require.Equal(t, []auth.Scope{auth.ScopeTenantsRead, auth.ScopeTenantsWrite}, got.Scopes)
		require.WithinDuration(t, time.Now().Add(30*24*time.Hour), got.ExpiresAt, time.Minute)

		out, _, err = runCmd(t, env, "list")
		require.NoError(t, err)
		require.Contains(t, out, got.ID)
		require.Contains(t, out, got.Prefix)
		require.Contains(t, out, string(auth.KeyActive))
		require.NotContains(t, out, secretOf(key))

		out, _, err = runCmd(t, env, "revoke", got.ID)
		require.NoError(t, err)
		require.Contains(t, out, "revoked "+got.ID)
		_, err = auth.NewService(db.Pool, nil).Authenticate(ctx, key)
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
		out, _, err = runCmd(t, env, "list")
		require.NoError(t, err)
		require.Contains(t, out, "revoked")
	})

	t.Run("Errors", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDB(t)
		env := map[string]string{"DATABASE_URL": db.URL}
		_, _, err := runCmd(t, env, "create", "--name", "x", "--scopes", "root")
		require.ErrorContains(t, err, `unknown scope "root"`)
		_, _, err = runCmd(t, env, "create", "--name", "x", "--scopes", "admin", "--expires-in", "400d")
		require.ErrorContains(t, err, "expiresIn")
		_, _, err = runCmd(t, env, "create", "--scopes", "admin")
		require.ErrorContains(t, err, "name: must not be empty or only white space") // the one rule the API states too
		_, _, err = runCmd(t, env, "revoke", "3b241101-e2bb-4255-8caf-4136c566a962")
		require.ErrorIs(t, err, auth.ErrNotFound)
		_, stderr, err := runCmd(t, env, "rotate")
		require.ErrorContains(t, err, "unknown subcommand")
		require.Contains(t, stderr, "usage:")
		_, _, err = runCmd(t, nil, "list")
		require.ErrorContains(t, err, "DATABASE_URL")
	})
}

func secretOf(key string) string { return key[len("pno_abcdefgh_"):] } // the part after the visible prefix

func TestRunDevKey(t *testing.T) {
	t.Parallel()
	dir := devDataDir(t)

	srv := startRun(t, []string{"dev", "--addr", freeAddr(t), "--data-dir", dir}, nil)
	srv.waitReady(t, 60*time.Second)
	b, err := os.ReadFile(filepath.Join(dir, "api-key"))
	require.NoError(t, err)
	key := strings.TrimSpace(string(b))
	fi, err := os.Stat(filepath.Join(dir, "api-key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.Contains(t, srv.Stdout.String(), key, "dev mode prints its key")
	require.NotContains(t, srv.Stderr.String(), secretOf(key), "but never logs it")

	req, err := http.NewRequest(http.MethodGet, srv.BaseURL+"/v1/api-keys", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NoError(t, srv.stop(t))

	// The next run keeps the same key.
	srv = startRun(t, []string{"dev", "--addr", freeAddr(t), "--data-dir", dir}, nil)
	srv.waitReady(t, 60*time.Second)
	require.Contains(t, srv.Stdout.String(), key)
	require.NoError(t, srv.stop(t))
}

// TestDevKeyGainsNewScopes: a dev data dir's key from before a scope existed (tokens:write,
// usage:read) is replaced by one with every scope, so the README's walk-through works on an
// old .devdata; a key with every scope is kept.
func TestDevKeyGainsNewScopes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	keys := auth.NewService(db.Pool, nil)
	for _, added := range []auth.Scope{auth.ScopeTokensWrite, auth.ScopeUsageRead} {
		t.Run(string(added), func(t *testing.T) {
			dir := t.TempDir()
			var old []auth.Scope
			for _, sc := range auth.AllScopes() {
				if sc != added {
					old = append(old, sc)
				}
			}
			_, oldKey, err := keys.Create(ctx, auth.CreateParams{Name: "dev", Scopes: old, CreatedBy: auth.SystemActor("test")})
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "api-key"), []byte(oldKey+"\n"), 0o600))

			key, err := ensureDevKey(ctx, keys, dir)
			require.NoError(t, err)
			require.NotEqual(t, oldKey, key)
			k, err := keys.Authenticate(ctx, key)
			require.NoError(t, err)
			require.True(t, k.Has(added))
			require.Equal(t, auth.AllScopes(), k.Scopes)
			again, err := ensureDevKey(ctx, keys, dir)
			require.NoError(t, err)
			require.Equal(t, key, again, "a key with every scope is kept")
		})
	}
}

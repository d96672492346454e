package pgtest_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

func TestChoose(t *testing.T) {
	t.Parallel()

	var (
		binsFound   = func() (string, error) { return "/usr/lib/postgresql/15/bin", nil }
		binsMissing = func() (string, error) { return "", errors.New("no binaries") }
		dockerUp    = func(context.Context) error { return nil }
		dockerDown  = func(context.Context) error { return errors.New("no engine") }
	)
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}

	tests := []struct {
		name     string
		vars     map[string]string
		bins     func() (string, error)
		docker   func(context.Context) error
		want     pgtest.Strategy
		wantErr  error
		wantPart string
	}{
		{name: "URLWinsOverEverything", vars: map[string]string{"TEST_DATABASE_URL": "postgres://x/y", "CI": "true"}, bins: binsFound, docker: dockerUp, want: pgtest.StrategyURL},
		{name: "LocalBinariesWithoutURL", bins: binsFound, docker: dockerUp, want: pgtest.StrategyLocal},
		{name: "ContainerWithoutBinaries", bins: binsMissing, docker: dockerUp, want: pgtest.StrategyContainer},
		{name: "SkipWhenNothingOutsideCI", bins: binsMissing, docker: dockerDown, want: pgtest.StrategySkip, wantPart: "no engine"},
		{name: "FailWhenNothingUnderCI", vars: map[string]string{"CI": "true"}, bins: binsMissing, docker: dockerDown, wantErr: pgtest.ErrNoDatabase},
		{name: "FailWhenNothingUnderCIOne", vars: map[string]string{"CI": "1"}, bins: binsMissing, docker: dockerDown, wantErr: pgtest.ErrNoDatabase},
		{name: "CIFalseStillSkips", vars: map[string]string{"CI": "false"}, bins: binsMissing, docker: dockerDown, want: pgtest.StrategySkip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := pgtest.Choose(context.Background(), pgtest.Env{Getenv: env(tt.vars), FindBinDir: tt.bins, DockerHealthy: tt.docker})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.ErrorContains(t, err, "CI=true")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, d.Strategy)
			require.Contains(t, d.Reason, tt.wantPart)
		})
	}
}

func TestNewDB(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("MigratedAndPrivate", func(t *testing.T) {
		t.Parallel()
		a, b := pgtest.NewDB(t), pgtest.NewDB(t)
		require.NotEqual(t, a.Name, b.Name)

		var n int
		require.NoError(t, a.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job").Scan(&n))
		require.Zero(t, n)

		_, err := a.Pool.Exec(ctx, "CREATE TABLE only_in_a (v int)")
		require.NoError(t, err)
		var exists bool
		require.NoError(t, b.Pool.QueryRow(ctx, "SELECT to_regclass('only_in_a') IS NOT NULL").Scan(&exists))
		require.False(t, exists)
	})

	t.Run("EmptyHasNoMigrations", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmptyDB(t)
		var exists bool
		require.NoError(t, db.Pool.QueryRow(ctx, "SELECT to_regclass('river_job') IS NOT NULL").Scan(&exists))
		require.False(t, exists)
	})
}

func TestTestTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// Two transactions see the migrated schema, and neither sees the other's writes.
	tx1, tx2 := pgtest.TestTx(t), pgtest.TestTx(t)
	_, err := tx1.Exec(ctx, "CREATE TABLE tx_scratch (v int)")
	require.NoError(t, err)
	var exists bool
	require.NoError(t, tx2.QueryRow(ctx, "SELECT to_regclass('tx_scratch') IS NOT NULL").Scan(&exists))
	require.False(t, exists)
	require.NoError(t, tx2.QueryRow(ctx, "SELECT to_regclass('river_job') IS NOT NULL").Scan(&exists))
	require.True(t, exists)
}

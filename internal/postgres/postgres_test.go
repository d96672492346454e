package postgres_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

func TestWithTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct{ db *pgtest.DB }
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := pgtest.NewEmptyDB(t)
		_, err := db.Pool.Exec(ctx, "CREATE TABLE t (v int)")
		require.NoError(t, err)
		return &testBundle{db: db}
	}
	count := func(t *testing.T, b *testBundle) int {
		t.Helper()
		var n int
		require.NoError(t, b.db.Pool.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n))
		return n
	}

	t.Run("CommitsOnNil", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		v, err := postgres.WithTxV(ctx, b.db.Pool, func(ctx context.Context, tx pgx.Tx) (int, error) {
			_, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)")
			return 7, err
		})
		require.NoError(t, err)
		require.Equal(t, 7, v)
		require.Equal(t, 1, count(t, b))
	})

	t.Run("RollsBackOnError", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		boom := errors.New("boom")
		err := postgres.WithTx(ctx, b.db.Pool, func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)")
			require.NoError(t, err)
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Zero(t, count(t, b))
	})

	t.Run("RollsBackWhenContextCancelled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		cctx, cancel := context.WithCancel(ctx)
		err := postgres.WithTx(cctx, b.db.Pool, func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO t VALUES (1)")
			require.NoError(t, err)
			cancel()
			return ctx.Err()
		})
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, count(t, b))
		// The connection went back to the pool clean: the next transaction works.
		require.NoError(t, postgres.WithTx(ctx, b.db.Pool, func(ctx context.Context, tx pgx.Tx) error {
			_, err := tx.Exec(ctx, "INSERT INTO t VALUES (2)")
			return err
		}))
		require.Equal(t, 1, count(t, b))
	})
}

func TestMigrator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	tableExists := func(t *testing.T, db *pgtest.DB, name string) bool {
		t.Helper()
		var ok bool
		require.NoError(t, db.Pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok))
		return ok
	}
	riverTables := []string{"river_job", "river_leader", "river_queue", "river_migration"}

	t.Run("UpDownUpRoundTrip", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmptyDB(t)
		m, err := postgres.NewMigrator(db.Pool, pnonboard.Migrations(), nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })

		res, err := m.Up(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, res)
		current, target, err := m.Versions(ctx)
		require.NoError(t, err)
		require.Equal(t, target, current)
		for _, tbl := range riverTables {
			require.True(t, tableExists(t, db, tbl), tbl)
		}

		_, err = m.DownTo(ctx, 0)
		require.NoError(t, err)
		current, _, err = m.Versions(ctx)
		require.NoError(t, err)
		require.Zero(t, current)
		for _, tbl := range riverTables {
			require.False(t, tableExists(t, db, tbl), tbl)
		}

		_, err = m.Up(ctx)
		require.NoError(t, err)
		current, target, err = m.Versions(ctx)
		require.NoError(t, err)
		require.Equal(t, target, current)
		require.True(t, tableExists(t, db, "river_job"))

		st, err := m.Status(ctx)
		require.NoError(t, err)
		for _, s := range st {
			require.Equal(t, "applied", string(s.State), s.Source.Path)
		}
	})

	t.Run("ConcurrentMigratorsSerialise", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewEmptyDB(t)
		errs := make(chan error, 3)
		for range 3 {
			go func() {
				m, err := postgres.NewMigrator(db.Pool, pnonboard.Migrations(), nil)
				if err != nil {
					errs <- err
					return
				}
				defer m.Close()
				_, err = m.Up(ctx)
				errs <- err
			}()
		}
		for range 3 {
			require.NoError(t, <-errs)
		}
		var applied int
		require.NoError(t, db.Pool.QueryRow(ctx, "SELECT count(*) FROM goose_db_version WHERE version_id = $1", postgres.RiverMigrationVersion).Scan(&applied))
		require.Equal(t, 1, applied, "River's migration must run exactly once")
	})
}

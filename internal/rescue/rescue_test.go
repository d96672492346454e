package rescue_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/rescue"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

func TestNewClientID(t *testing.T) {
	t.Parallel()
	a, b := rescue.NewClientID("host a/with:odd chars"), rescue.NewClientID("host a/with:odd chars")
	require.NotEqual(t, a, b, "restarts on one host get new IDs")
	require.True(t, strings.HasPrefix(a, rescue.ClientIDPrefix+"host_a_with_odd_chars/"), a)
	require.LessOrEqual(t, len(rescue.NewClientID(strings.Repeat("h", 300))), 100, "River takes IDs of at most 100 characters")
}

func TestReaper(t *testing.T) {
	t.Parallel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	type bundle struct {
		db     *pgtest.DB
		reaper *rescue.Reaper
		clock  *time.Time
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		db := pgtest.NewDB(t)
		now := time.Now()
		r := rescue.NewReaper(rescue.ReaperOpts{Pool: db.Pool, Self: rescue.NewClientID("self"), Grace: 5 * time.Second, Logger: logger})
		rescue.SetClock(r, func() time.Time { return now })
		return &bundle{db: db, reaper: r, clock: &now}
	}
	running := func(t *testing.T, b *bundle, client string, attempt, maxAttempts int) int64 {
		t.Helper()
		var id int64
		require.NoError(t, b.db.Pool.QueryRow(context.Background(), `
			INSERT INTO river_job (args, kind, max_attempts, queue, state, attempt, attempted_at, attempted_by)
			VALUES ('{}', 'tenant_reconcile', $3, 'default', 'running', $2, now(), ARRAY['someone-earlier', $1])
			RETURNING id`, client, attempt, maxAttempts).Scan(&id))
		return id
	}
	type jobRow struct {
		State       string
		Attempt     int
		MaxAttempts int
		Errors      []map[string]any
	}
	job := func(t *testing.T, b *bundle, id int64) jobRow {
		t.Helper()
		var j jobRow
		var errs [][]byte
		require.NoError(t, b.db.Pool.QueryRow(context.Background(),
			`SELECT state, attempt, max_attempts, coalesce(errors, '{}')::text[]::bytea[] FROM river_job WHERE id = $1`, id).
			Scan(&j.State, &j.Attempt, &j.MaxAttempts, &errs))
		for _, e := range errs {
			var m map[string]any
			require.NoError(t, json.Unmarshal(e, &m))
			j.Errors = append(j.Errors, m)
		}
		return j
	}

	t.Run("LiveClientIsLeftAlone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		alive := rescue.NewClientID("alive")
		_, err := rescue.Acquire(ctx, b.db.Pool.Config().ConnConfig, alive, logger)
		require.NoError(t, err)
		id := running(t, b, alive, 1, 25)
		for range 3 {
			n, err := b.reaper.RunOnce(ctx)
			require.NoError(t, err)
			require.Zero(t, n)
			*b.clock = b.clock.Add(10 * time.Second)
		}
		require.Equal(t, "running", job(t, b, id).State)

		_, err = rescue.Acquire(ctx, b.db.Pool.Config().ConnConfig, alive, logger)
		require.ErrorIs(t, err, rescue.ErrLeaseTaken, "one live session per client ID")
	})

	t.Run("DeadClientsJobsRunAgainAfterTheGrace", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		leaseCtx, kill := context.WithCancel(ctx)
		dead := rescue.NewClientID("dead")
		lease, err := rescue.Acquire(leaseCtx, b.db.Pool.Config().ConnConfig, dead, logger)
		require.NoError(t, err)
		id := running(t, b, dead, 3, 25)
		last := running(t, b, dead, 25, 25)
		kill() // the process dies: its connection, and so its lock, are gone
		<-lease.Done()
		// The server lets go of the lock once its backend has noticed the closed connection.
		require.Eventually(t, func() bool {
			var held int
			require.NoError(t, b.db.Pool.QueryRow(ctx, `
				SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
				AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&held))
			return held == 0
		}, 10*time.Second, 10*time.Millisecond)

		n, err := b.reaper.RunOnce(ctx)
		require.NoError(t, err)
		require.Zero(t, n, "first seen free: within the grace")
		*b.clock = b.clock.Add(4 * time.Second)
		n, err = b.reaper.RunOnce(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		*b.clock = b.clock.Add(2 * time.Second)
		n, err = b.reaper.RunOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)

		j := job(t, b, id)
		require.Equal(t, "available", j.State)
		require.Equal(t, 3, j.Attempt, "the crashed attempt counts")
		require.Len(t, j.Errors, 1)
		require.Contains(t, j.Errors[0]["error"], dead)
		lastJob := job(t, b, last)
		require.Equal(t, "available", lastJob.State)
		require.Equal(t, 26, lastJob.MaxAttempts, "a crash never takes the final attempt")
	})

	t.Run("ForeignAndOwnClientsAreNotWatched", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := context.Background()
		foreign := running(t, b, "01JXYZ-river-default-id", 1, 25)
		own := running(t, b, rescue.ReaperSelf(b.reaper), 1, 25)
		for range 3 {
			_, err := b.reaper.RunOnce(ctx)
			require.NoError(t, err)
			*b.clock = b.clock.Add(10 * time.Second)
		}
		require.Equal(t, "running", job(t, b, foreign).State, "left to River's own rescuer")
		require.Equal(t, "running", job(t, b, own).State)
	})

	t.Run("LeaseComesBackAfterItsConnectionDies", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		client := rescue.NewClientID("blip")
		_, err := rescue.Acquire(ctx, b.db.Pool.Config().ConnConfig, client, logger)
		require.NoError(t, err)
		// Postgres drops the lease's connection (a restart, a network cut).
		var old int
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = 'pnonboard lease' AND datname = current_database()`).Scan(&old))
		_, err = b.db.Pool.Exec(ctx, `SELECT pg_terminate_backend($1)`, old)
		require.NoError(t, err)
		id := running(t, b, client, 1, 25)
		require.Eventually(t, func() bool {
			var held bool
			require.NoError(t, b.db.Pool.QueryRow(ctx, `
				SELECT count(*) = 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
				WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'pnonboard lease'
				  AND a.datname = current_database() AND a.pid <> $1`, old).Scan(&held))
			return held
		}, 10*time.Second, 50*time.Millisecond, "the lease is taken again on a new connection")
		for range 3 {
			_, err := b.reaper.RunOnce(ctx)
			require.NoError(t, err)
			*b.clock = b.clock.Add(10 * time.Second)
		}
		require.Equal(t, "running", job(t, b, id).State)
	})
}

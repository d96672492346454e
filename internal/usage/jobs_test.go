package usage_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertest"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/usage"
)

// TestSyncWaitsBehindSignups is the budget's class rule as the usage sync meets it: while
// signups queue for the budget's next slots, the sync's background call is refused by the
// budget (nothing reaches upstream) and its job snoozes for the wait; once the signups have
// gone, it runs. No signup waits for it.
func TestSyncWaitsBehindSignups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, harnessOpts{})
	h.provision(t, "acme", "production")
	h.clock.Set(time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC))

	// A small budget of its own, without rate-limit headers from upstream: calls are spaced at
	// one a second, so signups queue for the next seconds.
	slow, err := provisioner.NewBudget(h.db.Pool, provisioner.BudgetOpts{Name: "slow", PerMinute: 30, MaxWait: 10 * time.Second})
	require.NoError(t, err)
	client := provisioner.NewClient(provisioner.ClientOpts{Budget: slow, BaseURL: h.client.BaseURL(), APIKey: h.sb.APIKey(), Version: pubnub.DefaultVersion})
	syncer := h.syncer(usage.SyncerOpts{Upstream: client})

	var wg sync.WaitGroup
	signupErrs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := slow.Take(ctx, provisioner.ClassSignup)
			signupErrs <- err
		})
	}
	require.Eventually(t, func() bool {
		s, err := slow.Snapshot(ctx)
		return err == nil && s.Reserved >= 2
	}, 5*time.Second, 5*time.Millisecond, "signups reserve the next seconds")

	worker := rivertest.NewWorker(t, riverpgxv5.New(h.db.Pool), &river.Config{}, usage.NewSyncWorker(syncer, nil))
	tx, err := h.db.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(ctx)) })
	res, err := worker.Work(ctx, t, tx, usage.SyncArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobSnoozed, res.EventKind, "the budget refused the background call: the job snoozes")
	require.WithinDuration(t, time.Now(), res.Job.ScheduledAt, 5*time.Second, "for the refusal's wait, a few seconds")
	require.Zero(t, h.sb.CallCount(sandbox.OpGetUsageMetrics), "nothing reached upstream")

	wg.Wait()
	close(signupErrs)
	for err := range signupErrs {
		require.NoError(t, err, "every signup got its slot")
	}
	// The signups have gone: the sync gets its slot (within a second or two of spacing).
	var cur usage.Cursor
	require.Eventually(t, func() bool {
		err := syncer.Pass(ctx, &cur, time.Time{})
		var wait *usage.WaitError
		require.True(t, err == nil || errors.As(err, &wait), "%v", err)
		return err == nil
	}, 10*time.Second, 200*time.Millisecond)
	require.Equal(t, 1, h.sb.CallCount(sandbox.OpGetUsageMetrics))
}

// TestSyncJob runs the job in a River client as a replica does: a pass cut into many attempts
// (a tiny time slice) resumes from its cursor each time, and ends with every tenant synced once.
func TestSyncJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, harnessOpts{})
	for _, id := range []string{"t1", "t2", "t3"} {
		h.provision(t, id, "production")
	}
	h.clock.Set(time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC))

	done := make(chan usage.Progress, 1)
	var mu sync.Mutex
	var synced []int // Synced at every report before the end
	syncer := h.syncer(usage.SyncerOpts{PageSize: 2, OnProgressFunc: func(p usage.Progress) {
		if p.Done {
			select {
			case done <- p:
			default:
			}
			return
		}
		mu.Lock()
		defer mu.Unlock()
		synced = append(synced, p.Synced)
	}})
	workers := river.NewWorkers()
	river.AddWorker(workers, usage.NewSyncWorker(syncer, &usage.SyncWorkerOpts{Slice: time.Nanosecond}))
	river.AddWorker(workers, &usage.PruneWorker{Pool: h.db.Pool, Now: h.clock.Now})
	rc, err := river.NewClient(riverpgxv5.New(h.db.Pool), &river.Config{
		Logger: discard(), Workers: workers, TestOnly: true,
		Queues:        map[string]river.QueueConfig{usage.QueueUsage: {MaxWorkers: 2}},
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, rc.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.StopAndCancel(stopCtx)
	})

	res, err := rc.Insert(ctx, usage.SyncArgs{}, nil)
	require.NoError(t, err)
	again, err := rc.Insert(ctx, usage.SyncArgs{}, nil)
	require.NoError(t, err)
	require.True(t, again.UniqueSkippedAsDuplicate, "one pass at a time")
	require.Equal(t, res.Job.ID, again.Job.ID)

	select {
	case p := <-done:
		// Counted once each across the attempts: the cursor carried the counts and the place.
		require.Equal(t, usage.Progress{Day: date(t, "2030-02-28"), Targets: 3, Synced: 3, Done: true}, p)
	case <-time.After(30 * time.Second):
		t.Fatal("the pass did not finish")
	}
	require.Equal(t, 3, h.sb.CallCount(sandbox.OpGetUsageMetrics))
	mu.Lock()
	defer mu.Unlock()
	t.Logf("synced at reports: %v", synced)
	require.GreaterOrEqual(t, len(synced), 2, "the pass stopped at its slice and resumed: %v", synced)
	require.IsNonDecreasing(t, synced, "each attempt went on from the last one's counts")
}

func TestPrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t, harnessOpts{})
	tn := h.provision(t, "acme", "production")
	h.clock.Set(time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC))
	require.Equal(t, 1, h.pass(t, h.syncer(usage.SyncerOpts{})))

	// Thirteen months on (the sandbox would have nothing older anyway), January 2030 is the
	// oldest month kept on 2031-01-31; December 2029 does not exist here, so move to February
	// 2031: January 2030 goes, February 2030 stays.
	h.clock.Set(time.Date(2031, 2, 15, 0, 0, 0, 0, time.UTC))
	worker := rivertest.NewWorker(t, riverpgxv5.New(h.db.Pool), &river.Config{}, &usage.PruneWorker{Pool: h.db.Pool, Now: h.clock.Now})
	tx, err := h.db.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(ctx)) })
	res, err := worker.Work(ctx, t, tx, usage.PruneArgs{}, nil)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, res.EventKind)

	var oldest, newest string
	require.NoError(t, h.db.Pool.QueryRow(ctx, `SELECT to_char(min(day), 'YYYY-MM-DD'), to_char(max(day), 'YYYY-MM-DD') FROM usage_daily WHERE tenant_id = $1`,
		tn.ID).Scan(&oldest, &newest))
	require.Equal(t, "2030-02-01", oldest)
	require.Equal(t, "2030-02-28", newest)
	var months []string
	rows, err := h.db.Pool.Query(ctx, `SELECT DISTINCT to_char(month, 'YYYY-MM') FROM usage_monthly WHERE tenant_id = $1`, tn.ID)
	require.NoError(t, err)
	months, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"2030-02"}, months)
}

// TestKnownMetricsAreThoseUpstreamAccepts holds the client's metric list (pubnub.UsageMetricNames) to the sandbox's
// (both are the names PubNub documents; docs/pubnub.md).
func TestKnownMetricsAreThoseUpstreamAccepts(t *testing.T) {
	t.Parallel()
	sb := sandbox.New(&sandbox.Opts{Now: func() time.Time { return time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC) }})
	made, err := sb.Prefill(1, &sandbox.PrefillOpts{CreatedAt: time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	day := time.Date(2030, 2, 10, 0, 0, 0, 0, time.UTC)
	known := usage.KnownMetrics()
	require.Len(t, known, 146)
	for _, m := range known {
		_, ok := sb.UsageValue("app", made[0].AppID, m, day)
		require.True(t, ok, m)
	}
	_, ok := sb.UsageValue("app", made[0].AppID, "txn_totals", day)
	require.False(t, ok)
}

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	got, err := usage.ParseMetrics(" txn_total, mtd_uuid,txn_total,,publish ")
	require.NoError(t, err)
	require.Equal(t, []string{"txn_total", "mtd_uuid", "publish"}, got)

	_, err = usage.ParseMetrics("txn_total,bogus,mtd_users")
	require.ErrorContains(t, err, `unknown metric "bogus", "mtd_users"`)
	_, err = usage.ParseMetrics(" , ")
	require.ErrorContains(t, err, "no metrics")

	require.Equal(t, usage.TotalLast, usage.TotalKindOf("mtd_uuid"))
	require.Equal(t, usage.TotalSum, usage.TotalKindOf("txn_total"))
	require.Equal(t, usage.TotalMean, usage.TotalKindOf("publish_msg_average_size"))
}

func TestDays(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, date(t, "2030-02-27"), usage.LastDay(at("2030-03-01T03:59:59Z")), "yesterday is not in before 04:00 UTC")
	require.Equal(t, date(t, "2030-02-28"), usage.LastDay(at("2030-03-01T04:00:00Z")))
	require.Equal(t, date(t, "2029-03-01"), usage.RetentionStart(at("2030-03-31T23:00:00Z")), "this month and the twelve before")
	end, ok := usage.SyncEnd(new(at("2030-01-31T10:00:00Z")))
	require.True(t, ok)
	require.Equal(t, date(t, "2030-03-03"), end, "a full month after the disable")
	_, ok = usage.SyncEnd(nil)
	require.False(t, ok)
}

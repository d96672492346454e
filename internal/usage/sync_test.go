package usage_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/usage"
)

func TestSync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	metrics, err := usage.ParseMetrics(usage.DefaultMetrics)
	require.NoError(t, err)
	// After the provisioning on 2030-01-10, the clock moves to 2030-03-01 12:00: the last day
	// PubNub has is 2030-02-28.
	march1 := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)

	// requireSandboxValues checks that the stored days of env are exactly what the sandbox
	// answers for entity on every day from..to, every metric.
	requireSandboxValues := func(t *testing.T, h *harness, rows map[string]usage.DayValue, entityType, entityID, env, from, to string) {
		t.Helper()
		n := 0
		for _, d := range days(t, from, to) {
			for _, m := range metrics {
				want, ok := h.sb.UsageValue(entityType, entityID, m, d)
				require.True(t, ok, "%s %s %s", entityType, m, d)
				got, stored := rows[env+"/"+d.Format(time.DateOnly)+"/"+m]
				require.True(t, stored, "%s/%s/%s not stored", env, d.Format(time.DateOnly), m)
				require.Equal(t, want, got.Value, "%s/%s/%s", env, d.Format(time.DateOnly), m)
				n++
			}
		}
		require.Positive(t, n)
	}
	values := func(t *testing.T, h *harness, tenantID int64) map[string]usage.DayValue {
		t.Helper()
		out := map[string]usage.DayValue{}
		for k, r := range h.rows(t, tenantID) {
			out[k] = usage.DayValue{Day: date(t, r.Day), Value: r.Value}
		}
		return out
	}

	t.Run("ProvisionedTenantShowsTheSandboxsValues", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		tn := h.provision(t, "acme")
		h.clock.Set(march1)

		require.Equal(t, 1, h.pass(t, h.syncer(usage.SyncerOpts{})), "one call covers the whole range")

		rows := values(t, h, tn.ID)
		requireSandboxValues(t, h, rows, "app", tn.AppID, "", "2030-01-10", "2030-02-28")
		require.Len(t, rows, len(metrics)*len(days(t, "2030-01-10", "2030-02-28")), "nothing before the app existed, nothing after the last day")
		require.Equal(t, "2030-02-28", h.syncedThrough(t, tn.ID, ""))

		// The month's figures: sums, and mtd_uuid's value on the last day.
		svc := usage.NewService(usage.ServiceOpts{Pool: h.db.Pool, Metrics: metrics, Now: h.clock.Now})
		report, next, err := svc.Report(ctx, date(t, "2030-02-01"), 0, 10)
		require.NoError(t, err)
		require.Zero(t, next)
		require.Len(t, report, 1)
		require.True(t, report[0].Complete)
		for i, m := range metrics {
			want := 0.0
			for _, d := range days(t, "2030-02-01", "2030-02-28") {
				v, _ := h.sb.UsageValue("app", tn.AppID, m, d)
				if usage.TotalKindOf(m) == usage.TotalSum {
					want += v
				} else {
					want = v
				}
			}
			require.Equal(t, want, report[0].Values[i], m)
		}

		series, err := svc.Series(ctx, usage.SeriesParams{TenantID: tn.ID, From: date(t, "2030-02-01"), To: date(t, "2030-03-01"), Metrics: metrics})
		require.NoError(t, err)
		require.Equal(t, "2030-02-28", series.SyncedThrough.Format(time.DateOnly))
		for i, ms := range series.Metrics {
			require.Len(t, ms.Days, 28)
			require.Equal(t, report[0].Values[i], ms.Total, "the series' total is the report's figure: %s", ms.Name)
		}
	})

	t.Run("ResyncChangesNothing", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		tn := h.provision(t, "acme")
		h.clock.Set(march1)
		s := h.syncer(usage.SyncerOpts{})
		require.Equal(t, 1, h.pass(t, s))
		before := h.rows(t, tn.ID)

		h.clock.Set(march1.Add(6 * time.Hour))
		require.Zero(t, h.pass(t, s), "nothing new the same day: no call")
		require.Equal(t, before, h.rows(t, tn.ID))

		// The next day: one call re-reads 02-27 and 02-28 and adds 03-01. Every row it re-read
		// is untouched (same row version), since upstream did not change it.
		h.clock.Set(march1.AddDate(0, 0, 1))
		require.Equal(t, 1, h.pass(t, s))
		after := h.rows(t, tn.ID)
		for k, r := range before {
			require.Equal(t, r, after[k], k)
		}
		require.Len(t, after, len(before)+len(metrics), "only the new day was added")
		requireSandboxValues(t, h, values(t, h, tn.ID), "app", tn.AppID, "", "2030-03-01", "2030-03-01")
		require.Equal(t, "2030-03-01", h.syncedThrough(t, tn.ID, ""))
	})

	t.Run("RevisedDaysAreUpdated", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		tn := h.provision(t, "acme", "development", "production")
		h.clock.Set(march1)
		s := h.syncer(usage.SyncerOpts{})
		require.Equal(t, 1, h.pass(t, s))
		before := values(t, h, tn.ID)

		// Upstream revises its figures: the sandbox forgets a deleted keyset's share of its
		// app's usage, every day of it.
		require.NoError(t, h.sb.DeleteKeyset(tn.Keysets[1].KeysetID))
		h.clock.Set(march1.AddDate(0, 0, 1))
		require.Equal(t, 1, h.pass(t, s))
		after := values(t, h, tn.ID)

		// The two days re-read hold the revised figures; the new day too; older days keep what
		// was read when they were the last ones.
		requireSandboxValues(t, h, after, "app", tn.AppID, "", "2030-02-27", "2030-03-01")
		for _, m := range []string{"txn_total", "publish"} {
			for _, d := range []string{"2030-02-27", "2030-02-28"} {
				require.Less(t, after["/"+d+"/"+m].Value, before["/"+d+"/"+m].Value, "%s %s revised down", d, m)
			}
			require.Equal(t, before["/2030-02-26/"+m], after["/2030-02-26/"+m])
		}

		// February's figures follow the revision.
		svc := usage.NewService(usage.ServiceOpts{Pool: h.db.Pool, Metrics: metrics, Now: h.clock.Now})
		report, _, err := svc.Report(ctx, date(t, "2030-02-01"), 0, 10)
		require.NoError(t, err)
		series, err := svc.Series(ctx, usage.SeriesParams{TenantID: tn.ID, From: date(t, "2030-02-01"), To: date(t, "2030-03-01"), Metrics: metrics})
		require.NoError(t, err)
		for i, ms := range series.Metrics {
			require.Equal(t, ms.Total, report[0].Values[i], ms.Name)
		}
	})

	t.Run("ByEnvironmentReadsEachKeyset", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		tn := h.provision(t, "acme")
		require.Len(t, tn.Keysets, 3)
		h.clock.Set(march1)
		s := h.syncer(usage.SyncerOpts{ByEnvironment: true})

		require.Equal(t, 3, h.pass(t, s), "one call per environment")

		rows := values(t, h, tn.ID)
		for _, k := range tn.Keysets {
			requireSandboxValues(t, h, rows, "keyset", k.KeysetID, k.Environment, "2030-01-10", "2030-02-28")
			require.Equal(t, "2030-02-28", h.syncedThrough(t, tn.ID, k.Environment))
		}
		// The app level is the environments' sum, which is what PubNub says of the app.
		requireSandboxValues(t, h, rows, "app", tn.AppID, "", "2030-01-10", "2030-02-28")
		require.Equal(t, "2030-02-28", h.syncedThrough(t, tn.ID, ""))

		h.clock.Set(march1.AddDate(0, 0, 1))
		require.Equal(t, 3, h.pass(t, s))
		requireSandboxValues(t, h, values(t, h, tn.ID), "app", tn.AppID, "", "2030-02-27", "2030-03-01")
	})

	t.Run("DisabledTenantIsSyncedForAMonthAfterItsDisable", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		tn := h.provision(t, "acme")
		h.setDisabled(t, tn.ID, time.Date(2030, 1, 20, 15, 0, 0, 0, time.UTC))
		h.clock.Set(march1)
		s := h.syncer(usage.SyncerOpts{})

		require.Equal(t, 1, h.pass(t, s))
		require.Equal(t, "2030-02-20", h.syncedThrough(t, tn.ID, ""), "through its last bill's month and a month of late revisions")
		rows := values(t, h, tn.ID)
		requireSandboxValues(t, h, rows, "app", tn.AppID, "", "2030-01-10", "2030-02-20")
		require.NotContains(t, rows, "/2030-02-21/txn_total")

		h.clock.Set(march1.AddDate(0, 0, 5))
		require.Zero(t, h.pass(t, s), "its sync is over")

		svc := usage.NewService(usage.ServiceOpts{Pool: h.db.Pool, Metrics: metrics, Now: h.clock.Now})
		feb, _, err := svc.Report(ctx, date(t, "2030-02-01"), 0, 10)
		require.NoError(t, err)
		require.Len(t, feb, 1)
		require.True(t, feb[0].Complete, "complete through the end of its sync")
		mar, _, err := svc.Report(ctx, date(t, "2030-03-01"), 0, 10)
		require.NoError(t, err)
		require.Empty(t, mar, "not on the reports of months after its sync ended")
	})

	t.Run("OneCallPerTenantPerDay", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		const n = 4
		for _, id := range []string{"t1", "t2", "t3", "t4"} {
			h.provision(t, id, "production")
		}
		s := h.syncer(usage.SyncerOpts{PageSize: 3}) // pages end mid-list
		h.clock.Set(march1)
		require.Equal(t, n, h.pass(t, s), "the backfill: one call per tenant")
		// Passes every two hours for three days: each new day costs one call per tenant,
		// made by the first pass after 04:00 UTC (PubNub's delay).
		calls := map[string]int{}
		for at := march1.Add(2 * time.Hour); at.Before(march1.AddDate(0, 0, 3)); at = at.Add(2 * time.Hour) {
			h.clock.Set(at)
			c := h.pass(t, s)
			if c > 0 {
				require.GreaterOrEqual(t, at.Hour(), 4, "not before the day's data exists: %v", at)
				calls[at.Format(time.DateOnly)] += c
			}
		}
		require.Equal(t, map[string]int{"2030-03-02": n, "2030-03-03": n, "2030-03-04": n}, calls)
	})

	t.Run("TenantMadeTodayIsFirstCalledTomorrow", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		now := time.Now().UTC() // the tenant row's own clock
		h.clock.Set(now)
		tn := h.provision(t, "fresh")
		s := h.syncer(usage.SyncerOpts{})
		require.Zero(t, h.pass(t, s), "no day of it is over yet")

		tomorrow := usage.Day(now).AddDate(0, 0, 1)
		h.clock.Set(tomorrow.Add(3 * time.Hour))
		require.Zero(t, h.pass(t, s), "today's figures are not in before 04:00 UTC tomorrow")
		h.clock.Set(tomorrow.Add(5 * time.Hour))
		require.Equal(t, 1, h.pass(t, s))
		require.Equal(t, usage.Day(now).Format(time.DateOnly), h.syncedThrough(t, tn.ID, ""))
		requireSandboxValues(t, h, values(t, h, tn.ID), "app", tn.AppID, "", usage.Day(now).Format(time.DateOnly), usage.Day(now).Format(time.DateOnly))
	})

	t.Run("UpstreamFailureBacksOffAndRetries", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		bad := h.provision(t, "bad")
		good := h.provision(t, "good")
		var failing atomic.Bool
		failing.Store(true)
		up := upstreamFunc(func(ctx context.Context, q pubnub.UsageQuery) (pubnub.UsageMetrics, error) {
			if q.EntityID == bad.AppID && failing.Load() {
				return nil, &pubnub.Error{Op: "get usage metrics", StatusCode: 503}
			}
			return h.client.GetUsageMetrics(ctx, q)
		})
		var outcomes []string
		s := h.syncer(usage.SyncerOpts{Upstream: up, RetryBase: time.Hour, OnCallFunc: func(o string) { outcomes = append(outcomes, o) }})
		h.clock.Set(march1)

		var progress []usage.Progress
		s2 := h.syncer(usage.SyncerOpts{Upstream: up, RetryBase: time.Hour, OnProgressFunc: func(p usage.Progress) { progress = append(progress, p) }})
		var cur usage.Cursor
		require.NoError(t, s2.Pass(ctx, &cur, time.Time{}), "a tenant's failure does not stop the pass")
		require.Equal(t, "", h.syncedThrough(t, bad.ID, ""))
		require.Equal(t, "2030-02-28", h.syncedThrough(t, good.ID, ""))
		last := progress[len(progress)-1]
		require.True(t, last.Done)
		require.Equal(t, usage.Progress{Day: date(t, "2030-02-28"), Targets: 2, Synced: 1, Failed: 1, LagDays: 365, Done: true}, last)

		h.clock.Set(march1.Add(30 * time.Minute))
		require.Zero(t, h.pass(t, s), "within its backoff: no call")
		failing.Store(false)
		h.clock.Set(march1.Add(61 * time.Minute))
		require.Equal(t, 1, h.pass(t, s), "after it: retried")
		require.Equal(t, []string{"ok"}, outcomes)
		require.Equal(t, "2030-02-28", h.syncedThrough(t, bad.ID, ""))
	})

	t.Run("AddedMetricIsBackfilled", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		tn := h.provision(t, "acme")
		h.clock.Set(march1)
		require.Equal(t, 1, h.pass(t, h.syncer(usage.SyncerOpts{Metrics: []string{"txn_total"}})))
		require.Zero(t, h.pass(t, h.syncer(usage.SyncerOpts{Metrics: []string{"txn_total"}})))
		require.Equal(t, 1, h.pass(t, h.syncer(usage.SyncerOpts{Metrics: metrics})), "a new metric is read back to the start")
		requireSandboxValues(t, h, values(t, h, tn.ID), "app", tn.AppID, "", "2030-01-10", "2030-02-28")
	})

	t.Run("TimeSliceStopsBetweenTenantsAndResumes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOpts{})
		for _, id := range []string{"t1", "t2", "t3"} {
			h.provision(t, id, "production")
		}
		h.clock.Set(march1)
		s := h.syncer(usage.SyncerOpts{})
		var cur usage.Cursor
		stops := 0
		for {
			err := s.Pass(ctx, &cur, time.Now().Add(-time.Second)) // the slice is over at once
			if err == nil {
				break
			}
			require.ErrorIs(t, err, usage.ErrSliceEnded)
			stops++
			require.Less(t, stops, 10)
		}
		require.Equal(t, 2, stops, "one tenant per call: three calls, the last one finding the end")
		require.Equal(t, usage.Cursor{Day: "2030-02-28", After: cur.After, Targets: 3, Synced: 3}, cur)
		require.Equal(t, 3, h.sb.CallCount(sandbox.OpGetUsageMetrics))
	})
}

// upstreamFunc adapts a function to usage.Upstream.
type upstreamFunc func(ctx context.Context, q pubnub.UsageQuery) (pubnub.UsageMetrics, error)

func (f upstreamFunc) GetUsageMetrics(ctx context.Context, q pubnub.UsageQuery) (pubnub.UsageMetrics, error) {
	return f(ctx, q)
}

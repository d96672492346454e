package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// Upstream is the usage endpoint of the Admin API. It must be a client built by
// provisioner.NewClient (so every call takes a slot from the shared rate budget);
// *pubnub.Client implements it.
type Upstream interface {
	GetUsageMetrics(ctx context.Context, q pubnub.UsageQuery) (pubnub.UsageMetrics, error)
}

// SyncerOpts configure a Syncer.
type SyncerOpts struct {
	Pool     *pgxpool.Pool
	Upstream Upstream
	// Metrics are the metrics synced (PNONBOARD_USAGE_METRICS); nil means DefaultMetrics.
	Metrics []string
	// ByEnvironment reads each keyset (one call per environment) instead of the app; the
	// app-level figures are then the sums of the environments'.
	ByEnvironment bool
	// Now is the clock that says which days are over (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// PageSize is how many tenants are read at a time; zero means 500.
	PageSize int
	// RetryBase is the first backoff after a failed call, doubled per failure up to a day;
	// zero means 15 minutes.
	RetryBase time.Duration
	// OnCallFunc, when set, hears of every call the sync tried: outcome is "ok", "failed"
	// (upstream refused or did not answer; retried after a backoff), "rate_limited" (429) or
	// "no_budget" (the budget refused it; nothing was sent).
	OnCallFunc func(outcome string)
	// OnProgressFunc, when set, hears where the pass stands after every page of tenants and at
	// its end.
	OnProgressFunc func(Progress)
}

// Syncer copies PubNub's daily usage of every tenant into Postgres, a pass at a time. A pass
// walks every tenant in ID order and makes at most one call per target (the app, or each
// keyset with ByEnvironment) that has a day to catch up: a target already synced through the
// last day PubNub has is not called again until the next day is over, so a day costs one call
// per target, however often passes run.
type Syncer struct {
	opts SyncerOpts
}

// NewSyncer returns a Syncer.
func NewSyncer(opts SyncerOpts) *Syncer {
	if len(opts.Metrics) == 0 {
		opts.Metrics, _ = ParseMetrics(DefaultMetrics)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PageSize == 0 {
		opts.PageSize = 500
	}
	if opts.RetryBase == 0 {
		opts.RetryBase = 15 * time.Minute
	}
	return &Syncer{opts: opts}
}

// Cursor is where a pass stands: the day it syncs through, the last tenant it finished, and
// what it has counted so far. The zero Cursor starts a new pass. It is JSON so that a job can
// keep it between attempts.
type Cursor struct {
	Day      string `json:"day"`
	After    int64  `json:"after"`
	Targets  int    `json:"targets"`
	Synced   int    `json:"synced"`
	UpToDate int    `json:"up_to_date"`
	Waiting  int    `json:"waiting"`
	Failed   int    `json:"failed"`
	LagDays  int    `json:"lag_days"`
}

// Progress is a pass's state, for metrics.
type Progress struct {
	// Day is the last day PubNub had when the pass began: what it syncs through.
	Day time.Time
	// Targets counts the apps (or keysets) seen so far whose usage counts; each is one of
	// Synced (called and stored in this pass), UpToDate (already synced through Day, or
	// through its end a month after its tenant's disable), Waiting (backing off after a failed
	// call) or Failed (its call failed in this pass).
	Targets, Synced, UpToDate, Waiting, Failed int
	// LagDays is, among the targets seen, the most days any is behind Day.
	LagDays int
	// Done says the pass has seen every tenant.
	Done bool
}

// WaitError says the pass stopped because the rate budget refused its call, or upstream
// answered 429: try again after Wait.
type WaitError struct {
	Wait time.Duration
	Err  error
}

func (e *WaitError) Error() string {
	return fmt.Sprintf("usage sync waits %s: %v", e.Wait.Round(time.Millisecond), e.Err)
}

func (e *WaitError) Unwrap() error { return e.Err }

// ErrSliceEnded says a pass stopped at its time limit; continue it with its cursor.
var ErrSliceEnded = errors.New("usage sync: time slice ended")

// Pass continues the pass at cur (the zero Cursor starts one) until every tenant is seen
// (nil), until passes (ErrSliceEnded; checked between tenants, after at least one, zero means no limit), or
// until the budget or upstream says wait (*WaitError). cur always says where it stopped, so
// the next call resumes there; a tenant half done when it stopped is done again, calling only
// what it still lacks. Other errors are our own (the database).
func (s *Syncer) Pass(ctx context.Context, cur *Cursor, until time.Time) error {
	day, err := time.Parse(time.DateOnly, cur.Day)
	if err != nil {
		day = LastDay(s.opts.Now())
		*cur = Cursor{Day: day.Format(time.DateOnly)}
	}
	progressed := false // a slice always does one tenant, so every call moves the pass on
	for {
		page, err := tenants.ListForUsage(ctx, s.opts.Pool, cur.After, s.opts.PageSize)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			s.report(cur, day, true)
			s.opts.Logger.InfoContext(ctx, "usage sync pass complete", "day", cur.Day, "targets", cur.Targets,
				"synced", cur.Synced, "up_to_date", cur.UpToDate, "waiting", cur.Waiting, "targets_failed", cur.Failed, "lag_days", cur.LagDays)
			return nil
		}
		ids := make([]int64, len(page))
		for i, t := range page {
			ids[i] = t.ID
		}
		states, err := loadStates(ctx, s.opts.Pool, ids)
		if err != nil {
			return err
		}
		for _, t := range page {
			if !until.IsZero() && time.Now().After(until) && progressed {
				s.report(cur, day, false)
				return ErrSliceEnded
			}
			n, err := s.syncTenant(ctx, t, day, states)
			if err != nil {
				s.report(cur, day, false)
				return err
			}
			cur.Targets += n.Targets
			cur.Synced += n.Synced
			cur.UpToDate += n.UpToDate
			cur.Waiting += n.Waiting
			cur.Failed += n.Failed
			cur.LagDays = max(cur.LagDays, n.LagDays)
			cur.After = t.ID
			progressed = true
		}
		s.report(cur, day, false)
	}
}

func (s *Syncer) report(cur *Cursor, day time.Time, done bool) {
	if s.opts.OnProgressFunc == nil {
		return
	}
	s.opts.OnProgressFunc(Progress{Day: day, Targets: cur.Targets, Synced: cur.Synced, UpToDate: cur.UpToDate,
		Waiting: cur.Waiting, Failed: cur.Failed, LagDays: cur.LagDays, Done: done})
}

// target is one entity whose usage the sync reads: a tenant's app (environment "") or an
// environment's keyset.
type target struct {
	environment, entityType, entityID string
}

// targets are what the sync reads for t: its app, or each created keyset.
func (s *Syncer) targets(t tenants.UsageTenant) []target {
	if !s.opts.ByEnvironment {
		if t.AppID == "" {
			return nil
		}
		return []target{{environment: "", entityType: "app", entityID: t.AppID}}
	}
	out := make([]target, 0, len(t.Keysets))
	for _, k := range t.Keysets {
		out = append(out, target{environment: k.Environment, entityType: "keyset", entityID: k.KeysetID})
	}
	return out
}

// window is the days a tenant's usage is synced over at the pass's day: from the day it
// signed up (its app is made after), the retention start, or a year back (the longest range
// upstream serves), whichever is latest, to day, or to a month after its disable if that is
// sooner. ok is false when nothing is left to sync, or nothing yet: a tenant made today is first
// called once today is over.
func window(t tenants.UsageTenant, day, now time.Time) (start, end time.Time, ok bool) {
	end = day
	if stop, disabled := SyncEnd(t.DisabledAt); disabled && stop.Before(end) {
		end = stop
	}
	start = RetentionStart(now)
	for _, later := range []time.Time{end.AddDate(0, 0, -(maxRangeDays - 1)), Day(t.CreatedAt)} {
		if later.After(start) {
			start = later
		}
	}
	return start, end, !end.Before(start)
}

// plan is the range one call reads: from..end, and from deleteFrom on, days the answer lacks
// are deleted (nil on a first read: nothing of ours is older than the answer).
type plan struct {
	from, end  time.Time
	deleteFrom *time.Time
}

// planFor says what a target in state st needs for start..end, or upToDate when nothing. A
// target synced before re-reads its last two days, which upstream may have revised since; one
// whose metrics changed reads the whole window again.
func planFor(st syncState, metrics []string, start, end time.Time) (p plan, upToDate bool) {
	if st.through == nil {
		return plan{from: start, end: end}, false
	}
	reread := st.through.AddDate(0, 0, -1)
	if reread.Before(start) {
		reread = start
	}
	if !st.covers(metrics) {
		return plan{from: start, end: end, deleteFrom: &reread}, false
	}
	if !st.through.Before(end) {
		return plan{}, true
	}
	return plan{from: reread, end: end, deleteFrom: &reread}, false
}

// lag is how many days a target in state st is behind end.
func lag(st syncState, metrics []string, start, end time.Time) int {
	if st.through == nil || !st.covers(metrics) {
		return days(start, end) + 1
	}
	return max(days(*st.through, end), 0)
}

// syncTenant brings t's targets up to day. It returns a *WaitError or our own error to stop
// the pass; an upstream failure is recorded on the target (which backs off) and counted.
func (s *Syncer) syncTenant(ctx context.Context, t tenants.UsageTenant, day time.Time, states map[stateKey]syncState) (Cursor, error) {
	var n Cursor
	now := s.opts.Now()
	targets := s.targets(t)
	start, end, ok := window(t, day, now)
	if len(targets) == 0 || !ok {
		return n, nil
	}
	metrics := s.opts.Metrics
	for _, tg := range targets {
		k := stateKey{tenantID: t.ID, environment: tg.environment}
		st := states[k]
		n.Targets++
		p, upToDate := planFor(st, metrics, start, end)
		switch {
		case upToDate:
			n.UpToDate++
			continue
		case st.retryAfter != nil && st.retryAfter.After(now):
			n.Waiting++
			n.LagDays = max(n.LagDays, lag(st, metrics, start, end))
			continue
		}
		synced, err := s.syncTarget(ctx, t, tg, k, st, p, now)
		if err != nil {
			return n, err
		}
		if !synced {
			n.Failed++
			n.LagDays = max(n.LagDays, lag(st, metrics, start, end))
			continue
		}
		n.Synced++
		through := end
		states[k] = syncState{metrics: metrics, through: &through}
	}
	if s.opts.ByEnvironment {
		return n, s.deriveApp(ctx, t.ID, targets, states, start, end, now)
	}
	return n, nil
}

// syncTarget makes the call for one target and stores its answer. It reports false when the
// call failed upstream (recorded, with a backoff).
func (s *Syncer) syncTarget(ctx context.Context, t tenants.UsageTenant, tg target, k stateKey, st syncState, p plan, now time.Time) (bool, error) {
	log := s.opts.Logger.With("tenant_id", t.ID, "external_id", t.ExternalID, "environment", tg.environment)
	data, err := s.opts.Upstream.GetUsageMetrics(provisioner.WithClass(ctx, provisioner.ClassBackground), pubnub.UsageQuery{
		EntityType: tg.entityType, EntityID: tg.entityID, From: p.from, To: p.end.AddDate(0, 0, 1), Metrics: s.opts.Metrics,
	})
	if err != nil {
		if wait, ok := provisioner.IsNoBudget(err); ok {
			s.call("no_budget")
			return false, &WaitError{Wait: wait, Err: err}
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if pubnub.IsRateLimited(err) {
			s.call(CallRateLimited)
			wait, _ := pubnub.RateLimitWait(err)
			return false, &WaitError{Wait: max(wait, time.Second), Err: err}
		}
		s.call(CallFailed)
		backoff := min(s.opts.RetryBase<<min(st.failures, 10), 24*time.Hour)
		log.WarnContext(ctx, "usage sync call failed; will retry", "failures", st.failures+1, "retry_in", backoff, "err", err)
		return false, recordFailure(ctx, s.opts.Pool, k, publicMessage(err), now.Add(backoff))
	}
	s.call(CallOK)
	values := flatten(data, s.opts.Metrics, p.from, p.end)
	err = postgres.WithTx(ctx, s.opts.Pool, func(ctx context.Context, tx pgx.Tx) error {
		return storeSeries(ctx, tx, k, s.opts.Metrics, p.from, p.end, p.deleteFrom, values, now)
	})
	if err != nil {
		return false, err
	}
	log.DebugContext(ctx, "usage synced", "from", p.from.Format(time.DateOnly), "through", p.end.Format(time.DateOnly), "values", len(values.values))
	return true, nil
}

// deriveApp makes the tenant's app-level days from its environments' once every environment
// is synced through end (with ByEnvironment, the app is never read itself).
func (s *Syncer) deriveApp(ctx context.Context, tenantID int64, targets []target, states map[stateKey]syncState, start, end, now time.Time) error {
	envs := make([]string, len(targets))
	for i, tg := range targets {
		st := states[stateKey{tenantID: tenantID, environment: tg.environment}]
		if st.through == nil || st.through.Before(end) || !st.covers(s.opts.Metrics) {
			return nil // not yet: a later pass finishes it
		}
		envs[i] = tg.environment
	}
	k := stateKey{tenantID: tenantID}
	p, upToDate := planFor(states[k], s.opts.Metrics, start, end)
	if upToDate {
		return nil
	}
	err := postgres.WithTx(ctx, s.opts.Pool, func(ctx context.Context, tx pgx.Tx) error {
		return deriveAppLevel(ctx, tx, tenantID, envs, s.opts.Metrics, p.from, p.end, p.deleteFrom, now)
	})
	if err != nil {
		return err
	}
	through := end
	states[k] = syncState{metrics: s.opts.Metrics, through: &through}
	return nil
}

// The outcomes OnCallFunc hears.
const (
	CallOK          string = "ok"
	CallFailed      string = "failed"
	CallRateLimited string = "rate_limited"
)

func (s *Syncer) call(outcome string) {
	if s.opts.OnCallFunc != nil {
		s.opts.OnCallFunc(outcome)
	}
}

// flatten keeps the answer's values of metrics for the days from..end.
func flatten(data pubnub.UsageMetrics, metrics []string, from, end time.Time) dayValues {
	var v dayValues
	for _, m := range metrics {
		for d, value := range data[m] {
			day, err := time.Parse(time.DateOnly, d)
			if err != nil || day.Before(from) || day.After(end) {
				continue
			}
			v.days, v.metrics, v.values = append(v.days, day), append(v.metrics, m), append(v.values, value)
		}
	}
	return v
}

// publicMessage is what a target's last_error says: PubNub's status and words, never our
// internals.
func publicMessage(err error) string {
	var apiErr *pubnub.Error
	if errors.As(err, &apiErr) {
		msg := fmt.Sprintf("PubNub answered %d", apiErr.StatusCode)
		if len(apiErr.Body.Message) > 0 {
			msg += ": " + strings.Join(apiErr.Body.Message, "; ")
		}
		return msg
	}
	var tErr *pubnub.TransportError
	if errors.As(err, &tErr) {
		return "no usable answer from PubNub"
	}
	return "internal error; see the service logs"
}

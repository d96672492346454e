package provisioner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/pubnub"
)

// Budget is the upstream rate budget every replica shares: one Postgres row per upstream
// account (its window, below) that each Admin API call takes from atomically.
//
//   - No 60 seconds ever hold more than PerMinute − Margin calls from all replicas together:
//     the row counts the calls of the last 61 seconds, second by second (see windowSeconds),
//     with the reservations made ahead.
//   - While upstream's answers carry X-RateLimit-* headers, a window's room goes at once (a
//     signup's calls are not spaced out), and what upstream says is left in its own window
//     (less what was granted since) holds calls back too, so other users of the same account
//     are allowed for. Without the headers, calls are spaced out, at most PerMinute/60 a second.
//   - Calls carry a Class. A signup may reserve a slot up to MaxWait ahead and sleeps until it;
//     an operator call up to two seconds; a background call only what is free now, within its
//     share of the window, and nothing while others wait. A refused call gets *NoBudgetError
//     with the wait, and its job snoozes; while refused calls of a class are due back, lower
//     classes take nothing.
//   - A 429 blocks every call until the reset the answer names.
type Budget struct {
	pool   *pgxpool.Pool
	name   string
	limits limits
}

// NoBudgetError says no slot is available within the call's reach; Wait is how long until one
// likely will be.
type NoBudgetError struct{ Wait time.Duration }

func (e *NoBudgetError) Error() string {
	return fmt.Sprintf("upstream rate budget exhausted; next slot in %s", e.Wait.Round(time.Millisecond))
}

// BudgetOpts configure NewBudget.
type BudgetOpts struct {
	// Name keys the budget row (one per upstream account).
	Name string
	// PerMinute is the upstream limit.
	PerMinute int
	// Margin is how many calls a window leaves unused: for clock and arrival skew, and other
	// users of the account. Zero means DefaultMargin(PerMinute).
	Margin int
	// BackgroundShare is the most of a window background calls may use; zero means 0.2.
	BackgroundShare float64
	// MaxWait is how far ahead a signup may reserve; zero means DefaultMaxWait. At most a
	// minute.
	MaxWait time.Duration
}

// DefaultMaxWait is how far ahead a signup call may reserve a slot by default. It is long
// enough that the workers of a few replicas queue for slots in process during a burst (each
// holds at most one reservation at a time), instead of snoozing and coming back: a snooze costs
// the job a round trip through the queue.
const DefaultMaxWait = 30 * time.Second

// DefaultMargin is the margin for a limit: 2 % of it, at least two calls.
func DefaultMargin(perMinute int) int { return max(2, perMinute/50) }

// NewBudget returns the Budget; its row is created on first use.
func NewBudget(pool *pgxpool.Pool, opts BudgetOpts) (*Budget, error) {
	if opts.Margin == 0 {
		opts.Margin = DefaultMargin(opts.PerMinute)
	}
	if opts.PerMinute-opts.Margin < 1 {
		return nil, fmt.Errorf("rate budget: PerMinute %d leaves nothing after a margin of %d", opts.PerMinute, opts.Margin)
	}
	if opts.BackgroundShare == 0 {
		opts.BackgroundShare = 0.2
	}
	if opts.BackgroundShare < 0 || opts.BackgroundShare > 1 {
		return nil, fmt.Errorf("rate budget: BackgroundShare must be within 0 to 1 (got %v)", opts.BackgroundShare)
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.MaxWait < 0 || opts.MaxWait > horizonSeconds*time.Second {
		return nil, fmt.Errorf("rate budget: MaxWait must be within 0 to %ds (got %s)", horizonSeconds, opts.MaxWait)
	}
	return &Budget{pool: pool, name: opts.Name, limits: newLimits(opts.PerMinute, opts.Margin, opts.BackgroundShare, opts.MaxWait)}, nil
}

// PerWindow is how many calls any 60 seconds may hold.
func (b *Budget) PerWindow() int { return b.limits.perWindow }

// Grant is a slot taken: Seq numbers it among all grants, so an answer's headers can be
// matched to what was granted after.
type Grant struct{ Seq int64 }

// Take reserves a slot for a call of class and sleeps until it is due. Returns
// *NoBudgetError, taking nothing, when no slot is within the class's reach (or a 429 blocks
// the budget).
func (b *Budget) Take(ctx context.Context, class Class) (Grant, error) {
	var (
		at, now time.Time
		wait    time.Duration
		ok      bool
		seq     int64
	)
	err := b.update(ctx, func(w *window, dbNow time.Time) {
		now = dbNow
		at, wait, ok = w.take(b.limits, dbNow, class)
		seq = w.grantSeq
	})
	if err != nil {
		return Grant{}, err
	}
	if !ok {
		return Grant{}, &NoBudgetError{Wait: wait}
	}
	if d := at.Sub(now); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return Grant{}, ctx.Err()
		}
	}
	return Grant{Seq: seq}, nil
}

// Observe records what an answer to the call granted g said about upstream's window.
func (b *Budget) Observe(ctx context.Context, g Grant, rl pubnub.RateLimit) error {
	if rl.Limit <= 0 {
		return nil // no headers: nothing learnt
	}
	return b.update(ctx, func(w *window, now time.Time) {
		w.observe(now, g.Seq, rl.Limit, rl.Remaining, rl.Reset)
	})
}

// Block stops every call until now+d: upstream said 429, so nobody calls until its reset.
func (b *Budget) Block(ctx context.Context, d time.Duration) error {
	return b.update(ctx, func(w *window, now time.Time) {
		if until := now.Add(d); until.After(w.blockedUntil) {
			w.blockedUntil = until
		}
	})
}

// BudgetSnapshot is the budget's state for metrics.
type BudgetSnapshot struct {
	// Used is how many calls the last 61 seconds hold; Reserved how many are reserved ahead.
	Used, Reserved int
	// PerWindow is the most any window may hold.
	PerWindow int
	// Blocked is how long a 429 still blocks every call (0: not blocked).
	Blocked time.Duration
	// UpstreamRemaining is what upstream last said was left in its window, less what was
	// granted since; -1 when its headers are not fresh or its window has reset.
	UpstreamRemaining int
	// Burst says whether a window's room goes at once (headers fresh) or calls are spaced.
	Burst bool
}

// Snapshot reads the budget without changing it. A budget never used reads as empty.
func (b *Budget) Snapshot(ctx context.Context) (BudgetSnapshot, error) {
	w, now, err := b.load(ctx, b.pool, false)
	if errors.Is(err, pgx.ErrNoRows) {
		return BudgetSnapshot{PerWindow: b.limits.perWindow, UpstreamRemaining: -1}, nil
	}
	if err != nil {
		return BudgetSnapshot{}, err
	}
	sec := now.Unix()
	w.shift(sec)
	s := BudgetSnapshot{PerWindow: w.effective(b.limits, now).perWindow, Used: w.sum(w.calls, sec), UpstreamRemaining: -1, Burst: w.burst(b.limits, now)}
	for at := sec + 1; at <= sec+horizonSeconds; at++ {
		s.Reserved += w.at(w.calls, at)
	}
	if w.blockedUntil.After(now) {
		s.Blocked = w.blockedUntil.Sub(now)
	}
	if s.Burst && w.observedResetAt.After(now) {
		s.UpstreamRemaining = max(w.observedRemaining-int(w.grantSeq-w.observedSeq), 0)
	}
	return s, nil
}

const budgetColumns = `ring_start, calls, background_calls, blocked_until, grant_seq, observed_seq, observed_limit,
	observed_remaining, observed_reset_at, headers_seen_at, demand_until, clock_timestamp()`

// load reads the row (locked when forUpdate) and the database's clock, the one clock every
// replica shares.
func (b *Budget) load(ctx context.Context, db postgres.DBTX, forUpdate bool) (*window, time.Time, error) {
	q := `SELECT ` + budgetColumns + ` FROM upstream_rate_budget WHERE name = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	w := &window{}
	var demand []time.Time
	var now time.Time
	err := db.QueryRow(ctx, q, b.name).Scan(&w.start, &w.calls, &w.background, &w.blockedUntil, &w.grantSeq,
		&w.observedSeq, &w.observedLimit, &w.observedRemaining, &w.observedResetAt, &w.headersSeenAt, &demand, &now)
	if err != nil {
		return nil, time.Time{}, err
	}
	copy(w.demandUntil[:], demand)
	return w, now, nil
}

// update applies fn to the row under its lock, creating the row on first use.
func (b *Budget) update(ctx context.Context, fn func(w *window, now time.Time)) error {
	err := postgres.WithTx(ctx, b.pool, func(ctx context.Context, tx pgx.Tx) error {
		w, now, err := b.load(ctx, tx, true)
		if errors.Is(err, pgx.ErrNoRows) {
			if _, err := tx.Exec(ctx, `INSERT INTO upstream_rate_budget (name, tokens, updated_at) VALUES ($1, 0, clock_timestamp())
				ON CONFLICT (name) DO NOTHING`, b.name); err != nil {
				return err
			}
			w, now, err = b.load(ctx, tx, true)
		}
		if err != nil {
			return err
		}
		fn(w, now)
		_, err = tx.Exec(ctx, `
			UPDATE upstream_rate_budget SET ring_start = $2, calls = $3, background_calls = $4, blocked_until = $5,
				grant_seq = $6, observed_seq = $7, observed_limit = $8, observed_remaining = $9,
				observed_reset_at = $10, headers_seen_at = $11, demand_until = $12
			WHERE name = $1`, b.name, w.start, w.calls, w.background, w.blockedUntil, w.grantSeq, w.observedSeq,
			w.observedLimit, w.observedRemaining, w.observedResetAt, w.headersSeenAt, w.demandUntil[:])
		return err
	})
	if err != nil {
		return fmt.Errorf("rate budget: %w", err)
	}
	return nil
}

// classKey carries a call's Class in its context.
type classKey struct{}

// WithClass returns ctx whose upstream calls are of class c.
func WithClass(ctx context.Context, c Class) context.Context {
	return context.WithValue(ctx, classKey{}, c)
}

// ClassOf is the class of ctx's calls: ClassOperator unless WithClass said otherwise.
func ClassOf(ctx context.Context) Class {
	if c, ok := ctx.Value(classKey{}).(Class); ok {
		return c
	}
	return ClassOperator
}

// Transport is an http.RoundTripper that takes a Budget slot (of the request context's Class)
// before every request, tells the budget what each answer's rate-limit headers said, and
// blocks the budget when upstream answers 429. Wrapping the PubNub client's transport with it
// makes every upstream call, each page of a listing included, go through the budget.
type Transport struct {
	Budget *Budget
	Base   http.RoundTripper
	// Timeout bounds each request from the moment its slot is due to the end of its body:
	// the wait for a slot is not upstream's time. Zero means none.
	Timeout time.Duration
	// OnRateLimitedFunc, when set, hears of every 429 (for metrics and logs).
	OnRateLimitedFunc func(wait time.Duration)
}

// errUpstreamTimeout marks a request that upstream did not finish within Transport.Timeout.
var errUpstreamTimeout = errors.New("upstream request timed out")

// cancelOnClose ends a request's timeout context when its body is closed, as http.Client does.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// sendHook is what WithBeforeSend puts in a request's context.
type sendHook struct {
	fn   func(ctx context.Context) error
	done bool
}

type sendHookKey struct{}

// WithBeforeSend returns a context whose next upstream request runs fn once its budget slot
// is due and just before it is sent; if fn fails, the request is not sent and fails with fn's
// error. The create steps commit their create-pending marker this way, so a marker exists
// only for a create that was actually sent: a create refused by the budget (the job snoozes)
// leaves nothing behind to adopt.
func WithBeforeSend(ctx context.Context, fn func(ctx context.Context) error) context.Context {
	return context.WithValue(ctx, sendHookKey{}, &sendHook{fn: fn})
}

// localFailure is our own machinery failing (the budget's or a marker's database write), not
// upstream.
type localFailure struct{ err error }

func (e *localFailure) Error() string { return e.err.Error() }
func (e *localFailure) Unwrap() error { return e.err }

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	grant, err := t.Budget.Take(req.Context(), ClassOf(req.Context()))
	if err != nil {
		if _, ok := IsNoBudget(err); ok || req.Context().Err() != nil {
			return nil, err
		}
		return nil, &localFailure{err}
	}
	if hook, ok := req.Context().Value(sendHookKey{}).(*sendHook); ok && !hook.done {
		hook.done = true
		if err := hook.fn(req.Context()); err != nil {
			return nil, &localFailure{err}
		}
	}
	cancel := context.CancelFunc(func() {})
	if t.Timeout > 0 {
		var ctx context.Context
		ctx, cancel = context.WithTimeoutCause(req.Context(), t.Timeout, errUpstreamTimeout)
		req = req.WithContext(ctx)
	}
	resp, err := t.Base.RoundTrip(req)
	if err != nil {
		cancel()
		if cause := context.Cause(req.Context()); errors.Is(cause, errUpstreamTimeout) {
			err = fmt.Errorf("%w after %s: %w", errUpstreamTimeout, t.Timeout, err)
		}
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	rl := pubnub.ParseRateLimit(resp.Header, time.Now())
	bookkeeping := context.WithoutCancel(req.Context())
	if resp.StatusCode == http.StatusTooManyRequests {
		wait := pubnub.RetryWait(resp.Header, time.Now())
		if t.OnRateLimitedFunc != nil {
			t.OnRateLimitedFunc(wait)
		}
		if err := t.Budget.Block(bookkeeping, wait); err != nil {
			resp.Body.Close()
			return nil, &localFailure{err}
		}
		return resp, nil
	}
	if err := t.Budget.Observe(bookkeeping, grant, rl); err != nil {
		resp.Body.Close()
		return nil, &localFailure{err}
	}
	return resp, nil
}

// IsNoBudget reports whether err is (or wraps) a *NoBudgetError, and its wait.
func IsNoBudget(err error) (time.Duration, bool) {
	var nb *NoBudgetError
	if errors.As(err, &nb) {
		return nb.Wait, true
	}
	return 0, false
}

// ClientOpts configure NewClient.
type ClientOpts struct {
	Budget                   *Budget
	BaseURL, APIKey, Version string
	Timeout                  time.Duration
	// Base is the transport under the budget; nil means a clone of http.DefaultTransport.
	Base              http.RoundTripper
	OnRateLimitedFunc func(wait time.Duration)
}

// NewClient returns the PubNub client the workers use: every request it makes, each page of a
// listing included, first takes a slot from the shared budget.
func NewClient(opts ClientOpts) *pubnub.Client {
	base := opts.Base
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	transport := &Transport{Budget: opts.Budget, Base: base, Timeout: opts.Timeout, OnRateLimitedFunc: opts.OnRateLimitedFunc}
	// No http.Client.Timeout: it would count the wait for a budget slot as upstream time.
	return pubnub.New(opts.BaseURL, opts.APIKey, opts.Version, &http.Client{Transport: transport})
}

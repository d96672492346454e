package provisioner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

// Budget is the upstream rate budget every replica shares: a token bucket in one Postgres row
// that each Admin API call takes from atomically. A caller may reserve a token up to MaxWait
// ahead (the bucket goes into debt) and sleeps until its slot, which spaces calls evenly;
// beyond that, it gets *NoBudgetError and the job snoozes. Every call, read or write, waits
// the same way: reads never crowd out creates. A 429 from upstream empties the bucket until
// the reset the answer names.
//
// The bucket refills at PerMinute − max(1, PerMinute/100) tokens a minute with room for one:
// at most PerMinute calls then fall in any 60-second window, whatever its alignment, even
// with a little network jitter, so a fixed-window upstream limit is never hit.
type Budget struct {
	pool      *pgxpool.Pool
	name      string
	perSecond float64
	maxDebt   float64
}

// NoBudgetError says no token is available within the budget's MaxWait; Wait is how long
// until one will be.
type NoBudgetError struct{ Wait time.Duration }

func (e *NoBudgetError) Error() string {
	return fmt.Sprintf("upstream rate budget exhausted; next token in %s", e.Wait.Round(time.Millisecond))
}

// BudgetOpts configure NewBudget.
type BudgetOpts struct {
	// Name keys the bucket (one per upstream account).
	Name string
	// PerMinute is the upstream limit.
	PerMinute int
	// MaxWait is how far ahead a call may reserve a token; zero means DefaultMaxWait.
	MaxWait time.Duration
}

// NewBudget returns the Budget; its row is created on first use.
func NewBudget(pool *pgxpool.Pool, opts BudgetOpts) (*Budget, error) {
	if opts.PerMinute < 2 {
		return nil, fmt.Errorf("rate budget: PerMinute must be at least 2 (got %d)", opts.PerMinute)
	}
	if opts.MaxWait == 0 {
		opts.MaxWait = DefaultMaxWait
	}
	margin := math.Max(1, float64(opts.PerMinute)/100)
	b := &Budget{pool: pool, name: opts.Name, perSecond: (float64(opts.PerMinute) - margin) / 60}
	b.maxDebt = b.perSecond * opts.MaxWait.Seconds()
	return b, nil
}

// PerMinute is the rate the bucket refills at.
func (b *Budget) PerMinute() float64 { return b.perSecond * 60 }

// DefaultMaxWait is how far ahead a call may reserve a token by default. It is long enough
// that the workers of a few replicas queue for tokens in process during a burst (each holds
// at most one reservation at a time), instead of snoozing and coming back: a snooze costs
// the job a round trip through the queue, and the bucket idles while nobody holds a
// reservation.
const DefaultMaxWait = 30 * time.Second

// Take reserves a token and waits until it is due. Returns *NoBudgetError when the wait would
// exceed MaxWait (or the bucket is blocked by a 429), without taking anything.
func (b *Budget) Take(ctx context.Context) error { return b.take(ctx, b.maxDebt) }

func (b *Budget) take(ctx context.Context, maxDebt float64) error {
	// One statement: refill by elapsed time (capacity 1), then take a token unless the bucket
	// is blocked or the debt would pass maxDebt. It always returns the state it saw.
	var (
		avail, after *float64
		blockedUntil time.Time
		now          time.Time
	)
	err := b.pool.QueryRow(ctx, `
		WITH cur AS (
			-- greatest(): a statement that waited for the row lock must not move time backwards.
			SELECT b.name, b.blocked_until, greatest(n.t, b.updated_at) AS t,
			       least(1.0, b.tokens + extract(epoch FROM greatest(n.t, b.updated_at) - b.updated_at) * $2::float8) AS avail
			FROM upstream_rate_budget b, (SELECT clock_timestamp() AS t) n
			WHERE b.name = $1 FOR UPDATE OF b
		), took AS (
			UPDATE upstream_rate_budget u SET tokens = cur.avail - 1, updated_at = cur.t
			FROM cur WHERE u.name = cur.name AND cur.blocked_until <= cur.t AND cur.avail - 1 >= -$3::float8
			RETURNING u.tokens
		)
		SELECT cur.avail, cur.blocked_until, cur.t, (SELECT tokens FROM took) FROM cur`,
		b.name, b.perSecond, maxDebt).Scan(&avail, &blockedUntil, &now, &after)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := b.pool.Exec(ctx, `
			INSERT INTO upstream_rate_budget (name, tokens, updated_at) VALUES ($1, 1, clock_timestamp())
			ON CONFLICT (name) DO NOTHING`, b.name); err != nil {
			return fmt.Errorf("create rate budget: %w", err)
		}
		return b.take(ctx, maxDebt)
	}
	if err != nil {
		return fmt.Errorf("take rate budget: %w", err)
	}
	if after == nil {
		if blockedUntil.After(now) {
			return &NoBudgetError{Wait: blockedUntil.Sub(now)}
		}
		// Tokens needed before a reservation fits within maxDebt again.
		need := -maxDebt + 1 - *avail
		return &NoBudgetError{Wait: time.Duration(need / b.perSecond * float64(time.Second))}
	}
	if *after >= 0 {
		return nil
	}
	wait := time.Duration(-*after / b.perSecond * float64(time.Second))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Block empties the bucket until now+d: upstream said 429, so nobody calls until its reset.
func (b *Budget) Block(ctx context.Context, d time.Duration) error {
	_, err := b.pool.Exec(ctx, `
		UPDATE upstream_rate_budget SET tokens = 0, updated_at = clock_timestamp(),
			blocked_until = greatest(blocked_until, clock_timestamp() + $2 * interval '1 millisecond')
		WHERE name = $1`, b.name, d.Milliseconds())
	if err != nil {
		return fmt.Errorf("block rate budget: %w", err)
	}
	return nil
}

// Transport is an http.RoundTripper that takes a Budget token before every request and
// blocks the budget when upstream answers 429. Wrapping the PubNub client's transport with it
// makes every upstream call, including each page of a listing, go through the budget.
type Transport struct {
	Budget *Budget
	Base   http.RoundTripper
	// Timeout bounds each request from the moment its token is granted to the end of its
	// body: the wait for a token is not upstream's time. Zero means none.
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

// WithBeforeSend returns a context whose next upstream request runs fn once its budget token
// is granted and just before it is sent; if fn fails, the request is not sent and fails with
// fn's error. The create steps commit their create-pending marker this way, so a marker
// exists only for a create that was actually sent: a create refused by the budget (the job
// snoozes) leaves nothing behind to adopt.
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
	if err := t.Budget.Take(req.Context()); err != nil {
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
	if resp.StatusCode != http.StatusTooManyRequests {
		return resp, nil
	}
	wait := retryWait(resp.Header)
	if t.OnRateLimitedFunc != nil {
		t.OnRateLimitedFunc(wait)
	}
	if err := t.Budget.Block(context.WithoutCancel(req.Context()), wait); err != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// retryWait reads how long a 429 asks us to wait: X-RateLimit-Reset (seconds), else
// Retry-After (seconds), else a minute, the window PubNub's limit is counted in.
func retryWait(h http.Header) time.Duration {
	for _, name := range []string{"X-RateLimit-Reset", "Retry-After"} {
		if s, err := strconv.Atoi(h.Get(name)); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
	}
	return time.Minute
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
// listing included, first takes a token from the shared budget.
func NewClient(opts ClientOpts) *pubnub.Client {
	base := opts.Base
	if base == nil {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	transport := &Transport{Budget: opts.Budget, Base: base, Timeout: opts.Timeout, OnRateLimitedFunc: opts.OnRateLimitedFunc}
	// No http.Client.Timeout: it would count the wait for a budget token as upstream time.
	return pubnub.New(opts.BaseURL, opts.APIKey, opts.Version, &http.Client{Transport: transport})
}

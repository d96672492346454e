// Package provisioner carries tenants to their desired state in PubNub: a River job per
// tenant that performs one idempotent, persisted step at a time, and the shared upstream rate
// budget every Admin API call goes through.
package provisioner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// ReconcileArgs is the job that moves one tenant toward its desired state.
type ReconcileArgs struct {
	TenantID int64 `json:"tenant_id"`
}

// Kind is the job's stable name.
func (ReconcileArgs) Kind() string { return "tenant_reconcile" }

// MaxAttempts bounds retries of upstream faults: with the backoff of NextRetry, about three
// hours of trying before the tenant is marked failed.
const MaxAttempts = 25

// InsertOpts makes the job unique per tenant among the states that have yet to run or are
// running, so a burst of changes coalesces into one job. Completed jobs are left out on
// purpose: a change after the job finished must start a new one. The worker completes its
// job in the same transaction that confirms the tenant reached its desired state, under the
// tenant's row lock, so a change cannot slip between "done" and "completed".
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		MaxAttempts: MaxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	}
}

// Enqueuer inserts reconcile jobs inside the caller's transaction (tenants.Enqueuer).
type Enqueuer struct {
	Client *river.Client[pgx.Tx]
}

// EnqueueReconcile implements tenants.Enqueuer.
func (e *Enqueuer) EnqueueReconcile(ctx context.Context, tx pgx.Tx, tenantID int64) error {
	if _, err := e.Client.InsertTx(ctx, tx, ReconcileArgs{TenantID: tenantID}, nil); err != nil {
		return fmt.Errorf("enqueue reconcile of tenant %d: %w", tenantID, err)
	}
	return nil
}

// RunNow implements tenants.Enqueuer: the tenant's reconcile job, waiting for a backoff or a
// snooze, becomes available at once. A tenant with no live job gets a new one. It reports
// false, changing nothing, when the job is running right now.
func (e *Enqueuer) RunNow(ctx context.Context, tx pgx.Tx, tenantID int64) (bool, error) {
	res, err := e.Client.InsertTx(ctx, tx, ReconcileArgs{TenantID: tenantID}, nil)
	if err != nil {
		return false, fmt.Errorf("run reconcile of tenant %d now: %w", tenantID, err)
	}
	if !res.UniqueSkippedAsDuplicate {
		return true, nil // there was none: this new one runs at once
	}
	if res.Job.State == rivertype.JobStateRunning {
		return false, nil
	}
	if _, err := e.Client.JobRetryTx(ctx, tx, res.Job.ID); err != nil {
		return false, fmt.Errorf("run reconcile of tenant %d now: %w", tenantID, err)
	}
	return true, nil
}

// Upstream is the part of the PubNub Admin API the worker uses; *pubnub.Client implements it.
type Upstream interface {
	CreateApp(ctx context.Context, name string) (*pubnub.App, error)
	GetApp(ctx context.Context, id string) (*pubnub.App, error)
	ListAppsPage(ctx context.Context, page, limit int) ([]pubnub.App, int, error)
	CreateKeyset(ctx context.Context, p pubnub.CreateKeysetParams) (*pubnub.CreatedKeyset, error)
	GetKeyset(ctx context.Context, id string) (*pubnub.Keyset, error)
	ListKeysetsPage(ctx context.Context, page, limit int) ([]pubnub.Keyset, int, error)
	UpdateKeysetConfig(ctx context.Context, keysetID string, patch *pubnub.KeysetConfig) (*pubnub.KeysetConfig, error)
	ListSecretKeys(ctx context.Context, keysetID string, activeOnly bool) ([]pubnub.SecretKey, error)
	RotateSecretKey(ctx context.Context, keysetID string, expiresAt *time.Time) (pubnub.Secret, error)
	UpdateApp(ctx context.Context, id, name string) (*pubnub.App, error)
	UpdateKeyset(ctx context.Context, id string, p pubnub.UpdateKeysetParams) (*pubnub.Keyset, error)
	GetKeysetConfig(ctx context.Context, keysetID string) (*pubnub.KeysetConfig, error)
	CreateCustomer(ctx context.Context, p pubnub.CreateCustomerParams) (*pubnub.Customer, error)
	UpdateCustomer(ctx context.Context, id, name string) (*pubnub.Customer, error)
	GetCustomer(ctx context.Context, id string) (*pubnub.Customer, error)
	ListCustomers(ctx context.Context, appID string) ([]pubnub.Customer, error)
	AssignKeysets(ctx context.Context, customerID string, keysetIDs []string) (*pubnub.Customer, error)
}

// Announcer records an outcome for the partner's webhooks inside the transaction that made
// the change (webhooks.Announcer implements it).
type Announcer interface {
	Announce(ctx context.Context, tx pgx.Tx, outcome tenants.Outcome, t *tenants.Tenant) error
}

// TokenRevoker enqueues, inside the caller's transaction, the revocation of every Access
// Manager token granted on a tenant's keysets before they were locked (tokens.Revoker).
type TokenRevoker interface {
	EnqueueRevokeTokens(ctx context.Context, tx pgx.Tx, tenantID int64) error
}

// WorkerOpts wire a Worker.
type WorkerOpts struct {
	Pool      *pgxpool.Pool
	Upstream  Upstream
	Keyring   *secrets.Keyring
	Profiles  Profiles
	Announcer Announcer    // nil: no webhooks
	Tokens    TokenRevoker // nil: no tokens to revoke
	Logger    *slog.Logger
	// OnUpstreamErrorFunc, when set, hears of every upstream error (for metrics).
	OnUpstreamErrorFunc func(step string, err error)
	// RetryBase is the first retry's backoff, doubled per error up to ten minutes; zero means
	// one second.
	RetryBase time.Duration
	// AttemptSlice bounds how long one attempt keeps taking steps before it hands the job back
	// to the queue (a snooze of zero) to continue in a fresh attempt; zero means two minutes.
	// It keeps every attempt well inside the job's Timeout however many steps remain.
	AttemptSlice time.Duration
	// VerifyAfter is how long a confirmation (by a create's answer, a check, or the drift
	// sweep) that the tenant's resources are its own is trusted; a job reads older holdings
	// back before using them. Zero means 25 hours: a day's drift sweep keeps it fresh.
	VerifyAfter time.Duration
}

// Worker reconciles one tenant per job.
type Worker struct {
	river.WorkerDefaults[ReconcileArgs]
	opts WorkerOpts
}

// NewWorker returns the reconcile worker.
func NewWorker(opts WorkerOpts) *Worker {
	if opts.RetryBase == 0 {
		opts.RetryBase = time.Second
	}
	if opts.AttemptSlice == 0 {
		opts.AttemptSlice = 2 * time.Minute
	}
	if opts.VerifyAfter == 0 {
		opts.VerifyAfter = 25 * time.Hour
	}
	return &Worker{opts: opts}
}

// Timeout bounds one attempt; every step is persisted, so an attempt cut short resumes where
// it stopped. Attempts hand themselves back after AttemptSlice, far inside this.
func (w *Worker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return 5 * time.Minute }

// NextRetry backs off exponentially from RetryBase, capped at ten minutes, with up to 25%
// jitter so that tenants failing together do not retry together.
func (w *Worker) NextRetry(job *river.Job[ReconcileArgs]) time.Time {
	d := w.opts.RetryBase << min(len(job.Errors), 10)
	d = min(d, 10*time.Minute)
	d += time.Duration(rand.Int64N(int64(d)/4 + 1))
	return time.Now().Add(d)
}

// attempt is one run of Work: the job as River handed it over, and when it started.
type attempt struct {
	*Worker
	job     *river.Job[ReconcileArgs]
	started time.Time
}

// Work performs steps until the tenant is where it should be, the budget says wait, or a step
// fails. Whatever ends the last attempt (an upstream fault, the attempt's timeout, our own
// database), the tenant is left failed with the reason, never stuck mid-way with no job.
func (w *Worker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	ctx = logging.With(ctx, slog.Int64("job_id", job.ID), slog.Int64("tenant_id", job.Args.TenantID))
	a := &attempt{Worker: w, job: job, started: time.Now()}
	err := a.run(ctx)
	var snooze *river.JobSnoozeError
	if err == nil || job.Attempt < job.MaxAttempts || errors.As(err, &snooze) || errors.Is(err, errFenced) {
		return err
	}
	// The last attempt failed. Record that even if its context is spent.
	failCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	msg := fmt.Sprintf("gave up after %d attempts: %s", job.Attempt, publicMessage(err))
	w.opts.Logger.ErrorContext(ctx, "reconcile gave up; tenant failed", "attempts", job.Attempt, "err", err)
	if failErr := a.fail(failCtx, a.failedStepName(failCtx), msg); failErr != nil {
		return errors.Join(err, failErr)
	}
	return nil
}

// failedStepName names the step the tenant was at, for a failure found outside a step.
func (a *attempt) failedStepName(ctx context.Context) string {
	t, err := tenants.Get(ctx, a.opts.Pool, a.job.Args.TenantID)
	if err != nil {
		return "unknown"
	}
	if s := a.nextStep(t); s != nil {
		return s.name
	}
	return "finish"
}

func (a *attempt) run(ctx context.Context) error {
	for {
		t, err := tenants.Get(ctx, a.opts.Pool, a.job.Args.TenantID)
		if errors.Is(err, tenants.ErrNotFound) {
			return nil // nothing to reconcile; tenants are never deleted, but be safe
		}
		if err != nil {
			return err
		}
		ctx := WithClass(logging.With(ctx, slog.String("external_id", t.ExternalID)), classOf(t))
		s := a.nextStep(t)
		if s == nil {
			done, err := a.finish(ctx)
			if err != nil || done {
				return err
			}
			continue // the desired state changed under us: keep going
		}
		if time.Since(a.started) > a.opts.AttemptSlice {
			// Continue in a fresh attempt (a snooze spends none), so no attempt nears its
			// timeout however many steps are left.
			return river.JobSnooze(0)
		}
		if err := s.run(ctx, t); err != nil {
			return a.stepFailed(ctx, t, s.name, err)
		}
	}
}

// classOf is the budget class of a tenant's upstream calls: a signup until it is first
// provisioned (a customer is waiting), operator work after, and a check the drift sweep
// asked for in the background.
func classOf(t *tenants.Tenant) Class {
	switch {
	case t.Signup():
		return ClassSignup
	case t.CheckRequested == tenants.CheckBySweep:
		return ClassBackground
	}
	return ClassOperator
}

// step is one unit of progress: at most a few upstream calls, each result persisted.
type step struct {
	name string
	run  func(ctx context.Context, t *tenants.Tenant) error
}

// nextStep is the first thing the tenant still needs, or nil when it is at its desired state.
func (a *attempt) nextStep(t *tenants.Tenant) *step {
	if t.State == tenants.StatePending {
		if t.HoldsUpstream() {
			// An operator's retry of a failed tenant (a new tenant holds nothing): whatever
			// confirmed its holdings before it failed, read them back before using any of it.
			// The check starts the tenant in the same transaction.
			return &step{"verify", a.check}
		}
		return &step{"start", a.start}
	}
	switch {
	case t.CheckRequested != "":
		return &step{"check", a.check}
	case t.HoldsUpstream() && a.stale(t.VerifiedAt) && a.stale(t.LastCheckedAt):
		// Nothing has confirmed for a while that what the tenant holds is still its own:
		// read it back before using any of it.
		return &step{"verify", a.check}
	case t.State == tenants.StateFailed:
		return nil // waits for a retry or a repair, which enqueue a new job
	}
	s := a.change(t)
	if s != nil && blocked(t) {
		// The last check found a held resource gone or someone else's: nothing of the
		// tenant's is used until it is repaired (or a check finds it back).
		return &step{s.name, func(context.Context, *tenants.Tenant) error { return blockedError(t) }}
	}
	return s
}

// stale reports whether a confirmation at at is too old to trust.
func (a *attempt) stale(at *time.Time) bool {
	return at == nil || time.Since(*at) > a.opts.VerifyAfter
}

// change is the next upstream change the tenant needs (nil when none).
func (a *attempt) change(t *tenants.Tenant) *step {
	keysetStep := func(name string, k *tenants.Keyset, fn func(ctx context.Context, t *tenants.Tenant, env string) error) *step {
		env := k.Environment
		return &step{name + ":" + env, func(ctx context.Context, t *tenants.Tenant) error { return fn(ctx, t, env) }}
	}
	if t.AppID == "" {
		return &step{"create_app", a.createApp}
	}
	for i := range t.Keysets {
		if t.Keysets[i].KeysetID == "" {
			return keysetStep("create_keyset", &t.Keysets[i], a.createKeyset)
		}
	}
	if t.CustomerID == "" {
		return &step{"create_customer", a.createCustomer}
	}
	for i := range t.Keysets {
		if !t.Keysets[i].Assigned {
			return &step{"assign_keysets", a.assignKeysets}
		}
	}
	if t.CustomerName != t.Name {
		return &step{"rename_customer", a.renameCustomer}
	}
	if t.AppRenamePending {
		return &step{"rename_app", a.renameApp}
	}
	for i := range t.Keysets {
		if t.Keysets[i].RenamePending {
			return keysetStep("rename_keyset", &t.Keysets[i], a.renameKeyset)
		}
	}
	for i := range t.Keysets {
		// A rotation whose answer was lost is settled first, whichever way the keyset is
		// heading: the secret we hold must be the keyset's real one.
		if t.Keysets[i].RotatePendingAt != nil {
			return keysetStep("settle_rotation", &t.Keysets[i], a.settleRotation)
		}
	}
	for i := range t.Keysets {
		k := &t.Keysets[i]
		switch {
		case t.MustLock(k) && !k.Locked():
			if k.RetiredAt != nil && t.Desired != tenants.DesiredDisabled {
				return keysetStep("retire_keyset", k, a.lockKeyset)
			}
			return keysetStep("disable_keyset", k, a.lockKeyset)
		case !t.MustLock(k) && k.AccessLocked:
			return keysetStep("enable_keyset", k, a.unlockKeyset)
		}
	}
	return nil
}

// start labels the work about to happen.
func (a *attempt) start(ctx context.Context, t *tenants.Tenant) error {
	return a.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
		if ev, ok := t.Begin(); ok {
			return []tenants.Event{ev}
		}
		return nil
	})
}

// errFenced says this attempt no longer owns its job: the job was rescued from this replica
// (it looked dead) and runs elsewhere. The attempt stops without writing anything.
var errFenced = errors.New("this attempt no longer owns its job")

// tx runs fn in a transaction that first checks this attempt still owns its job, so an
// attempt written off as dead (and rescued onto another replica) cannot write over the one
// that replaced it. Every write of an attempt goes through here.
func (a *attempt) tx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return postgres.WithTx(ctx, a.opts.Pool, func(ctx context.Context, tx pgx.Tx) error {
		if err := fence(ctx, tx, a.job.JobRow); err != nil {
			return err
		}
		return fn(ctx, tx)
	})
}

// fence returns errFenced unless job is still running this very attempt on this very client.
func fence(ctx context.Context, tx pgx.Tx, job *rivertype.JobRow) error {
	if len(job.AttemptedBy) == 0 {
		return nil // not run by a River client (tests that call Work directly)
	}
	var owned bool
	err := tx.QueryRow(ctx, `
		SELECT state = 'running' AND attempt = $2 AND attempted_by[cardinality(attempted_by)] = $3
		FROM river_job WHERE id = $1`, job.ID, job.Attempt, job.AttemptedBy[len(job.AttemptedBy)-1]).Scan(&owned)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !owned {
		return errFenced
	}
	if err != nil {
		return fmt.Errorf("check job ownership: %w", err)
	}
	return nil
}

// update applies fn to the tenant under its row lock and saves it with fn's events.
func (a *attempt) update(ctx context.Context, tenantID int64, fn func(t *tenants.Tenant) []tenants.Event) error {
	return a.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		t, err := tenants.GetForUpdate(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		// What a tenant that held nothing is given needs no check: its create answer said
		// what it is.
		heldNothing := !t.HoldsUpstream()
		events := fn(t)
		if heldNothing && t.HoldsUpstream() {
			t.VerifiedAt = new(time.Now().UTC())
		}
		return a.save(ctx, tx, t, "", events...)
	})
}

// save stores t with its events and announces outcome ("" says nothing), all in tx.
func (a *attempt) save(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, outcome tenants.Outcome, events ...tenants.Event) error {
	if err := tenants.Save(ctx, tx, t); err != nil {
		return err
	}
	if err := tenants.AddEvents(ctx, tx, t.ID, events...); err != nil {
		return err
	}
	return a.announce(ctx, tx, outcome, t)
}

// finish confirms, under the tenant's row lock, that nothing is left to do; then records the
// new state, announces it, and completes the job in the same transaction. It reports false
// when the tenant changed and needs more steps.
func (a *attempt) finish(ctx context.Context) (bool, error) {
	done := false
	err := a.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		t, err := tenants.GetForUpdate(ctx, tx, a.job.Args.TenantID)
		if err != nil {
			return err
		}
		if a.nextStep(t) != nil {
			return nil
		}
		if ev, outcome, changed := t.Settle(time.Now().UTC()); changed {
			if err := a.save(ctx, tx, t, outcome, ev); err != nil {
				return err
			}
			if err := a.revokeTokens(ctx, tx, t); err != nil {
				return err
			}
			a.opts.Logger.InfoContext(ctx, "tenant reconciled", "state", t.State)
		}
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, a.job); err != nil {
			return fmt.Errorf("complete job: %w", err)
		}
		done = true
		return nil
	})
	return done, err
}

// revokeTokens, once a change settles with keysets locked (a disable, a retired environment),
// enqueues the revocation of the tokens granted on them before the lock: a lock stops new
// tokens being minted, and this ends the ones already out.
func (a *attempt) revokeTokens(ctx context.Context, tx pgx.Tx, t *tenants.Tenant) error {
	if a.opts.Tokens == nil {
		return nil
	}
	for i := range t.Keysets {
		if k := &t.Keysets[i]; k.Locked() && k.RotateFor > 0 {
			return a.opts.Tokens.EnqueueRevokeTokens(ctx, tx, t.ID)
		}
	}
	return nil
}

// announce tells the partner of outcome ("" says nothing).
func (a *attempt) announce(ctx context.Context, tx pgx.Tx, outcome tenants.Outcome, t *tenants.Tenant) error {
	if a.opts.Announcer == nil || outcome == "" {
		return nil
	}
	return a.opts.Announcer.Announce(ctx, tx, outcome, t)
}

// stepFailed decides what an error means: wait for the budget (snooze, no attempt spent),
// retry later (upstream fault), or stop and fail the tenant (a permanent refusal, a resource
// that is not ours, or the last attempt). Every upstream error lands on the tenant's timeline.
func (a *attempt) stepFailed(ctx context.Context, t *tenants.Tenant, stepName string, err error) error {
	if wait, ok := IsNoBudget(err); ok {
		a.opts.Logger.DebugContext(ctx, "rate budget exhausted; snoozing", "step", stepName, "wait", wait)
		return river.JobSnooze(wait + jitter())
	}
	if errors.Is(err, errFenced) {
		a.opts.Logger.WarnContext(ctx, "job rescued onto another replica; this attempt stops", "step", stepName)
		return err
	}
	if ctx.Err() != nil {
		return err // shutting down or timed out: River puts the job back
	}
	if errors.Is(err, errNotOurs) {
		a.opts.Logger.ErrorContext(ctx, "upstream resource is not this tenant's; tenant failed", "step", stepName, "err", err)
		return a.fail(ctx, stepName, publicMessage(err))
	}
	if isUpstream(err) {
		if a.opts.OnUpstreamErrorFunc != nil {
			a.opts.OnUpstreamErrorFunc(stepName, err)
		}
		detail := map[string]any{"step": stepName, "error": publicMessage(err), "retryable": pubnub.IsRetryable(err)}
		if status := pubnub.StatusCode(err); status != 0 {
			detail["status"] = status
		}
		if recErr := a.record(ctx, t.ID, tenants.SystemEvent(tenants.ActionUpstreamError, detail)); recErr != nil {
			return errors.Join(err, recErr)
		}
	}
	switch {
	case pubnub.IsRateLimited(err):
		wait, _ := pubnub.RateLimitWait(err)
		a.opts.Logger.WarnContext(ctx, "upstream rate limited; snoozing", "step", stepName, "wait", wait)
		return river.JobSnooze(max(wait, time.Second) + jitter())
	case pubnub.IsPermanent(err):
		a.opts.Logger.WarnContext(ctx, "permanent upstream error; tenant failed", "step", stepName, "err", err)
		return a.fail(ctx, stepName, publicMessage(err))
	}
	a.opts.Logger.WarnContext(ctx, "step failed; will retry", "step", stepName, "attempt", a.job.Attempt, "err", err)
	return err
}

// fail moves the tenant to failed with a message an operator can act on, announces it when
// provisioning never completed, and completes the job: a retry starts a new one.
func (a *attempt) fail(ctx context.Context, stepName, msg string) error {
	return a.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		t, err := tenants.GetForUpdate(ctx, tx, a.job.Args.TenantID)
		if err != nil {
			return err
		}
		ev, outcome := t.Fail(stepName, msg)
		if err := a.save(ctx, tx, t, outcome, ev); err != nil {
			return err
		}
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, a.job); err != nil {
			return fmt.Errorf("complete job: %w", err)
		}
		return nil
	})
}

func (a *attempt) record(ctx context.Context, tenantID int64, events ...tenants.Event) error {
	return a.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		return tenants.AddEvents(ctx, tx, tenantID, events...)
	})
}

// isUpstream reports whether err came from the Admin API call rather than our own machinery.
func isUpstream(err error) bool {
	var lf *localFailure
	if errors.As(err, &lf) {
		return false
	}
	var apiErr *pubnub.Error
	var tErr *pubnub.TransportError
	return errors.As(err, &apiErr) || errors.As(err, &tErr) || errors.Is(err, pubnub.ErrInvalidArgument) || errors.Is(err, errUnexpectedAnswer)
}

func jitter() time.Duration { return time.Duration(rand.Int64N(int64(250 * time.Millisecond))) }

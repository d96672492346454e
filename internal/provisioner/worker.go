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
	"github.com/pnonboard/pnonboard/internal/webhooks"
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

// Upstream is the part of the PubNub Admin API the worker uses; *pubnub.Client implements it.
type Upstream interface {
	CreateApp(ctx context.Context, name string) (*pubnub.App, error)
	ListApps(ctx context.Context) ([]pubnub.App, error)
	CreateKeyset(ctx context.Context, p pubnub.CreateKeysetParams) (*pubnub.CreatedKeyset, error)
	ListKeysets(ctx context.Context) ([]pubnub.Keyset, error)
	UpdateKeysetConfig(ctx context.Context, keysetID string, patch *pubnub.KeysetConfig) (*pubnub.KeysetConfig, error)
	ListSecretKeys(ctx context.Context, keysetID string, activeOnly bool) ([]pubnub.SecretKey, error)
	RotateSecretKey(ctx context.Context, keysetID string, expiresAt *time.Time) (pubnub.Secret, error)
	CreateCustomer(ctx context.Context, p pubnub.CreateCustomerParams) (*pubnub.Customer, error)
	GetCustomer(ctx context.Context, id string) (*pubnub.Customer, error)
	ListCustomers(ctx context.Context, appID string) ([]pubnub.Customer, error)
	AssignKeysets(ctx context.Context, customerID string, keysetIDs []string) (*pubnub.Customer, error)
}

// Announcer records a tenant event (one of the webhooks.Type* constants) for webhook delivery
// inside the transaction that made the change (webhooks.Announcer implements it).
type Announcer interface {
	Announce(ctx context.Context, tx pgx.Tx, eventType string, t *tenants.Tenant) error
}

// WorkerOpts wire a Worker.
type WorkerOpts struct {
	Pool      *pgxpool.Pool
	Upstream  Upstream
	Keyring   *secrets.Keyring
	Profiles  Profiles
	Announcer Announcer // nil: no webhooks
	Logger    *slog.Logger
	// OnUpstreamErrorFunc, when set, hears of every upstream error (for metrics).
	OnUpstreamErrorFunc func(step string, err error)
}

// Worker reconciles one tenant per job.
type Worker struct {
	river.WorkerDefaults[ReconcileArgs]
	opts WorkerOpts
}

// NewWorker returns the reconcile worker.
func NewWorker(opts WorkerOpts) *Worker { return &Worker{opts: opts} }

// Timeout bounds one attempt; every step is persisted, so an attempt cut short resumes where
// it stopped.
func (w *Worker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return 5 * time.Minute }

// NextRetry backs off exponentially from one second, capped at ten minutes, with up to 25%
// jitter so that tenants failing together do not retry together.
func (w *Worker) NextRetry(job *river.Job[ReconcileArgs]) time.Time {
	d := time.Second << min(len(job.Errors), 10)
	d = min(d, 10*time.Minute)
	d += time.Duration(rand.Int64N(int64(d) / 4))
	return time.Now().Add(d)
}

// Work performs steps until the tenant is where it should be, the budget says wait, or a step
// fails. Whatever ends the last attempt (an upstream fault, the attempt's timeout, our own
// database), the tenant is left failed with the reason, never stuck mid-way with no job.
func (w *Worker) Work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	ctx = logging.With(ctx, slog.Int64("job_id", job.ID), slog.Int64("tenant_id", job.Args.TenantID))
	err := w.work(ctx, job)
	var snooze *river.JobSnoozeError
	if err == nil || job.Attempt < job.MaxAttempts || errors.As(err, &snooze) {
		return err
	}
	// The last attempt failed. Record that even if its context is spent.
	failCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	msg := fmt.Sprintf("gave up after %d attempts: %s", job.Attempt, publicMessage(err))
	w.opts.Logger.ErrorContext(ctx, "reconcile gave up; tenant failed", "attempts", job.Attempt, "err", err)
	if failErr := w.fail(failCtx, job, w.failedStepName(failCtx, job), msg); failErr != nil {
		return errors.Join(err, failErr)
	}
	return nil
}

// failedStepName names the step the tenant was at, for a failure found outside a step.
func (w *Worker) failedStepName(ctx context.Context, job *river.Job[ReconcileArgs]) string {
	t, err := tenants.Get(ctx, w.opts.Pool, job.Args.TenantID)
	if err != nil {
		return "unknown"
	}
	if s := w.nextStep(t); s != nil {
		return s.name
	}
	return "finish"
}

func (w *Worker) work(ctx context.Context, job *river.Job[ReconcileArgs]) error {
	for {
		t, err := tenants.Get(ctx, w.opts.Pool, job.Args.TenantID)
		if errors.Is(err, tenants.ErrNotFound) {
			return nil // nothing to reconcile; tenants are never deleted, but be safe
		}
		if err != nil {
			return err
		}
		ctx := logging.With(ctx, slog.String("external_id", t.ExternalID))
		if t.State == tenants.StateFailed {
			return nil // waits for a retry, which enqueues a new job
		}
		s := w.nextStep(t)
		if s == nil {
			done, err := w.finish(ctx, job)
			if err != nil || done {
				return err
			}
			continue // the desired state changed under us: keep going
		}
		if err := s.run(ctx, t); err != nil {
			return w.stepFailed(ctx, job, t, s.name, err)
		}
	}
}

// step is one unit of progress: at most a few upstream calls, each result persisted.
type step struct {
	name string
	run  func(ctx context.Context, t *tenants.Tenant) error
}

// nextStep is the first thing the tenant still needs, or nil when it is at its desired state.
func (w *Worker) nextStep(t *tenants.Tenant) *step {
	if t.State == tenants.StatePending {
		return &step{"start", w.start}
	}
	if t.AppID == "" {
		return &step{"create_app", w.createApp}
	}
	for i := range t.Keysets {
		if t.Keysets[i].KeysetID == "" {
			env := t.Keysets[i].Environment
			return &step{"create_keyset:" + env, func(ctx context.Context, t *tenants.Tenant) error { return w.createKeyset(ctx, t, env) }}
		}
	}
	if t.CustomerID == "" {
		return &step{"create_customer", w.createCustomer}
	}
	for i := range t.Keysets {
		if !t.Keysets[i].Assigned {
			return &step{"assign_keysets", w.assignKeysets}
		}
	}
	for i := range t.Keysets {
		// A rotation whose answer was lost is settled first, whichever way the tenant is
		// heading: the secret we hold must be the keyset's real one.
		if t.Keysets[i].RotatePendingAt != nil {
			env := t.Keysets[i].Environment
			return &step{"settle_rotation:" + env, func(ctx context.Context, t *tenants.Tenant) error { return w.settleRotation(ctx, t, env) }}
		}
	}
	for i := range t.Keysets {
		k := &t.Keysets[i]
		env := k.Environment
		if t.Desired == tenants.DesiredDisabled && !k.Locked(t.LockGeneration) {
			return &step{"disable_keyset:" + env, func(ctx context.Context, t *tenants.Tenant) error { return w.lockKeyset(ctx, t, env) }}
		}
		if t.Desired == tenants.DesiredActive && k.AccessLocked {
			return &step{"enable_keyset:" + env, func(ctx context.Context, t *tenants.Tenant) error { return w.unlockKeyset(ctx, t, env) }}
		}
	}
	return nil
}

// start labels the work about to happen.
func (w *Worker) start(ctx context.Context, t *tenants.Tenant) error {
	return w.update(ctx, t.ID, func(t *tenants.Tenant) []tenants.Event {
		if t.State != tenants.StatePending {
			return nil
		}
		switch {
		case !t.Provisioned():
			t.State = tenants.StateProvisioning
		case t.Desired == tenants.DesiredDisabled:
			t.State = tenants.StateDisabling
		default:
			t.State = tenants.StateEnabling
		}
		return []tenants.Event{systemEvent("reconcile_started", map[string]any{"state": t.State})}
	})
}

// update applies fn to the tenant under its row lock and saves it with fn's events.
func (w *Worker) update(ctx context.Context, tenantID int64, fn func(t *tenants.Tenant) []tenants.Event) error {
	return postgres.WithTx(ctx, w.opts.Pool, func(ctx context.Context, tx pgx.Tx) error {
		t, err := tenants.GetForUpdate(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		events := fn(t)
		if err := tenants.Save(ctx, tx, t); err != nil {
			return err
		}
		return tenants.AddEvents(ctx, tx, t.ID, events...)
	})
}

// finish confirms, under the tenant's row lock, that nothing is left to do; then records the
// new state, announces it, and completes the job in the same transaction. It reports false
// when the tenant changed and needs more steps.
func (w *Worker) finish(ctx context.Context, job *river.Job[ReconcileArgs]) (bool, error) {
	return postgres.WithTxV(ctx, w.opts.Pool, func(ctx context.Context, tx pgx.Tx) (bool, error) {
		t, err := tenants.GetForUpdate(ctx, tx, job.Args.TenantID)
		if err != nil {
			return false, err
		}
		if t.State != tenants.StateFailed && w.nextStep(t) != nil {
			return false, nil
		}
		var action, eventType string
		now := time.Now().UTC()
		switch {
		case t.State == tenants.StateFailed:
		case t.Desired == tenants.DesiredActive && t.State != tenants.StateActive:
			switch {
			case t.ProvisionedAt == nil:
				action, eventType = "provisioned", webhooks.TypeProvisioned
				t.ProvisionedAt = &now
			case t.DisabledAt != nil:
				action, eventType = "enabled", webhooks.TypeEnabled
			default:
				// Enabled before the disable it cancelled completed: partners never heard
				// "disabled", so there is nothing to announce.
				action = "enabled"
			}
			t.State, t.DisabledAt = tenants.StateActive, nil
		case t.Desired == tenants.DesiredDisabled && t.State != tenants.StateDisabled:
			action, eventType = "disabled", webhooks.TypeDisabled
			t.State, t.DisabledAt = tenants.StateDisabled, &now
		}
		if action != "" {
			if err := tenants.Save(ctx, tx, t); err != nil {
				return false, err
			}
			if err := tenants.AddEvents(ctx, tx, t.ID, systemEvent(action, nil)); err != nil {
				return false, err
			}
			if eventType != "" {
				if err := w.announce(ctx, tx, eventType, t); err != nil {
					return false, err
				}
			}
			w.opts.Logger.InfoContext(ctx, "tenant reconciled", "state", t.State)
		}
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
			return false, fmt.Errorf("complete job: %w", err)
		}
		return true, nil
	})
}

func (w *Worker) announce(ctx context.Context, tx pgx.Tx, eventType string, t *tenants.Tenant) error {
	if w.opts.Announcer == nil {
		return nil
	}
	return w.opts.Announcer.Announce(ctx, tx, eventType, t)
}

// stepFailed decides what an error means: wait for the budget (snooze, no attempt spent),
// retry later (upstream fault), or stop and fail the tenant (a permanent refusal, or the last
// attempt). Every upstream error lands on the tenant's timeline.
func (w *Worker) stepFailed(ctx context.Context, job *river.Job[ReconcileArgs], t *tenants.Tenant, stepName string, err error) error {
	if wait, ok := IsNoBudget(err); ok {
		w.opts.Logger.DebugContext(ctx, "rate budget exhausted; snoozing", "step", stepName, "wait", wait)
		return river.JobSnooze(wait + jitter())
	}
	if ctx.Err() != nil {
		return err // shutting down or timed out: River puts the job back
	}
	upstream := isUpstream(err)
	if upstream {
		if w.opts.OnUpstreamErrorFunc != nil {
			w.opts.OnUpstreamErrorFunc(stepName, err)
		}
		detail := map[string]any{"step": stepName, "error": publicMessage(err), "retryable": pubnub.IsRetryable(err)}
		if status := pubnub.StatusCode(err); status != 0 {
			detail["status"] = status
		}
		if recErr := w.record(ctx, t.ID, systemEvent("upstream_error", detail)); recErr != nil {
			return errors.Join(err, recErr)
		}
	}
	switch {
	case pubnub.IsRateLimited(err):
		wait, _ := pubnub.RateLimitWait(err)
		w.opts.Logger.WarnContext(ctx, "upstream rate limited; snoozing", "step", stepName, "wait", wait)
		return river.JobSnooze(max(wait, time.Second) + jitter())
	case pubnub.IsPermanent(err):
		w.opts.Logger.WarnContext(ctx, "permanent upstream error; tenant failed", "step", stepName, "err", err)
		return w.fail(ctx, job, stepName, publicMessage(err))
	}
	w.opts.Logger.WarnContext(ctx, "step failed; will retry", "step", stepName, "attempt", job.Attempt, "err", err)
	return err
}

// fail moves the tenant to failed with a message an operator can act on, announces it when
// provisioning never completed, and completes the job: a retry starts a new one.
func (w *Worker) fail(ctx context.Context, job *river.Job[ReconcileArgs], stepName, msg string) error {
	return postgres.WithTx(ctx, w.opts.Pool, func(ctx context.Context, tx pgx.Tx) error {
		t, err := tenants.GetForUpdate(ctx, tx, job.Args.TenantID)
		if err != nil {
			return err
		}
		t.State, t.LastError, t.FailedStep = tenants.StateFailed, msg, stepName
		if err := tenants.Save(ctx, tx, t); err != nil {
			return err
		}
		if err := tenants.AddEvents(ctx, tx, t.ID, systemEvent("failed", map[string]any{"step": stepName, "error": msg})); err != nil {
			return err
		}
		if t.ProvisionedAt == nil {
			if err := w.announce(ctx, tx, webhooks.TypeProvisioningFailed, t); err != nil {
				return err
			}
		}
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job); err != nil {
			return fmt.Errorf("complete job: %w", err)
		}
		return nil
	})
}

func (w *Worker) record(ctx context.Context, tenantID int64, events ...tenants.Event) error {
	return postgres.WithTx(ctx, w.opts.Pool, func(ctx context.Context, tx pgx.Tx) error {
		return tenants.AddEvents(ctx, tx, tenantID, events...)
	})
}

// isUpstream reports whether err came from the Admin API call rather than our own machinery.
func isUpstream(err error) bool {
	var bf *budgetFailure
	if errors.As(err, &bf) {
		return false
	}
	var apiErr *pubnub.Error
	var tErr *pubnub.TransportError
	return errors.As(err, &apiErr) || errors.As(err, &tErr) || errors.Is(err, pubnub.ErrInvalidArgument) || errors.Is(err, errUnexpectedAnswer)
}

func systemEvent(action string, detail map[string]any) tenants.Event {
	return tenants.Event{Actor: "provisioner", Action: action, Detail: detail}
}

func jitter() time.Duration { return time.Duration(rand.Int64N(int64(250 * time.Millisecond))) }

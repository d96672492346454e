package tokens

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// RevokeTenantArgs is the job that revokes, upstream, every live token pnonboard granted on a
// tenant's keyset before that keyset was locked: a token of a lock generation older than the
// one its keyset is locked for (all keysets for a disable, one for a retired environment).
// Generation, the tenant's lock generation when the lock completed, keeps one job per lock;
// tokens granted after a later enable (or the environment's return) are left alone.
type RevokeTenantArgs struct {
	TenantID   int64 `json:"tenant_id"`
	Generation int   `json:"generation"`
}

// Kind is the job's stable name.
func (RevokeTenantArgs) Kind() string { return "tokens_revoke_tenant" }

// InsertOpts makes the job unique per tenant and generation among the jobs yet to finish, so
// a repeated enqueue (the disable's completion, MaintainWorker's sweep) coalesces; a finished
// job does not block the sweep from starting another for tokens recorded after it ran.
func (RevokeTenantArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		MaxAttempts: 25,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled,
		}},
	}
}

// EnqueueRevokeAll inserts, inside tx, the job that revokes every live token pnonboard issued
// for the tenant before its current lock generation: call it in the transaction that completes
// a disable. The job revokes with whatever secret key the keyset holds when it runs (Access
// Manager accepts any request signed with the current one), so it needs no ordering against
// the disable's secret rotation. Job kinds are not checked on this insert, so the caller's
// River client need not register the worker (every replica that works jobs does). Returns
// tenants.ErrNotFound.
func EnqueueRevokeAll(ctx context.Context, tx pgx.Tx, tenantID int64) error {
	_, gen, err := tenants.LockState(ctx, tx, tenantID)
	if err != nil {
		return fmt.Errorf("enqueue token revocation: %w", err)
	}
	return insertRevokeJobs(ctx, tx, []RevokeTenantArgs{{TenantID: tenantID, Generation: gen}})
}

// Revoker is EnqueueRevokeAll for the provisioner, which calls it when a lock completes.
type Revoker struct{}

// EnqueueRevokeTokens implements provisioner.TokenRevoker.
func (Revoker) EnqueueRevokeTokens(ctx context.Context, tx pgx.Tx, tenantID int64) error {
	return EnqueueRevokeAll(ctx, tx, tenantID)
}

// insertRevokeJobs inserts revocation jobs in tx through an insert-only River client, which
// checks no job kinds.
func insertRevokeJobs(ctx context.Context, tx pgx.Tx, jobs []RevokeTenantArgs) error {
	if len(jobs) == 0 {
		return nil
	}
	inserter, err := river.NewClient(riverpgxv5.New(nil), &river.Config{})
	if err != nil {
		return fmt.Errorf("enqueue token revocations: %w", err)
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, j := range jobs {
		params[i] = river.InsertManyParams{Args: j}
	}
	if _, err := inserter.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue token revocations: %w", err)
	}
	return nil
}

// RevokeTenantWorker works RevokeTenantArgs: batch by batch, it revokes the tenant's live,
// unrevoked tokens of older generations upstream, and records each revocation on the token and
// on the timeline (token_revoked, reason "tenant disabled") as the batch ends, so an attempt
// cut short resumes where it stopped and never revokes a recorded token twice. A token Access
// Manager refuses with a 400 (expired meanwhile, unknown to it) is recorded as
// token_revoke_failed and skipped; any other failure (a 403 while a secret rotation settles, a
// 5xx after the retries) fails the attempt, and River retries it.
type RevokeTenantWorker struct {
	river.WorkerDefaults[RevokeTenantArgs]
	svc *Service
	// Parallel is how many revocations run at once; zero means 8.
	Parallel int
	// BatchSize is how many tokens one batch takes; zero means 200.
	BatchSize int
	// AttemptSlice bounds how long one attempt keeps taking batches before it hands the job
	// back (a snooze of zero) to continue in a fresh attempt; zero means two minutes.
	AttemptSlice time.Duration
}

// NewRevokeTenantWorker returns the worker; opts.Tenants is not used.
func NewRevokeTenantWorker(opts ServiceOpts) *RevokeTenantWorker {
	return &RevokeTenantWorker{svc: NewService(opts)}
}

// Timeout bounds one attempt; attempts hand themselves back after AttemptSlice, far inside it.
func (w *RevokeTenantWorker) Timeout(*river.Job[RevokeTenantArgs]) time.Duration {
	return 5 * time.Minute
}

// revokeActor is who the timeline says revoked tokens on a disable.
const revokeActor = "tokens"

// Work revokes until nothing is left.
func (w *RevokeTenantWorker) Work(ctx context.Context, job *river.Job[RevokeTenantArgs]) error {
	s := w.svc
	started := time.Now()
	batchSize := cmp.Or(w.BatchSize, 200)
	for {
		t, err := tenants.Get(ctx, s.opts.Pool, job.Args.TenantID)
		if errors.Is(err, tenants.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		batch, err := s.unrevoked(ctx, t, batchSize)
		if err != nil || len(batch) == 0 {
			return err
		}
		revoked, failed, err := w.revokeBatch(ctx, t, batch)
		// What was done is recorded even when the attempt fails or its context ends.
		recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		n, recErr := s.record(recCtx, t.ID, revoked, revokeActor, "tenant disabled")
		if recErr == nil {
			recErr = s.recordFailed(recCtx, t.ID, failed)
		}
		cancel()
		if err := errors.Join(err, recErr); err != nil {
			s.opts.Logger.WarnContext(ctx, "token revocation on disable: attempt failed; will retry",
				"tenant_id", t.ID, "revoked", n, "err", err)
			return err
		}
		s.opts.Logger.InfoContext(ctx, "tokens revoked on disable", "tenant_id", t.ID, "revoked", n, "refused", len(failed))
		if len(batch) < batchSize {
			return nil
		}
		if time.Since(started) > cmp.Or(w.AttemptSlice, 2*time.Minute) {
			return river.JobSnooze(0)
		}
	}
}

// pending is an unrevoked token with what revoking it needs.
type pending struct {
	Record
	hash   string
	sealed []byte
}

// failure is a token Access Manager refused to revoke for good.
type failure struct {
	Record
	message string
}

// unrevoked lists up to limit live tokens of the tenant granted on a locked keyset before the
// generation it is locked for.
func (s *Service) unrevoked(ctx context.Context, t *tenants.Tenant, limit int) ([]pending, error) {
	var envs []string
	var floors []int32
	for i := range t.Keysets {
		if k := &t.Keysets[i]; k.Locked() && k.RotateFor > 0 {
			envs, floors = append(envs, k.Environment), append(floors, int32(k.RotateFor))
		}
	}
	if len(envs) == 0 {
		return nil, nil
	}
	rows, err := s.opts.Pool.Query(ctx, `
		SELECT `+recordColumns+`, token_hash, token_sealed
		FROM issued_tokens k JOIN unnest($2::text[], $3::int[]) AS f(environment, floor) USING (environment)
		WHERE tenant_id = $1 AND k.lock_generation < f.floor AND revoked_at IS NULL AND revoke_error IS NULL
		  AND expires_at > now()
		ORDER BY id LIMIT $4`, t.ID, envs, floors, limit)
	if err != nil {
		return nil, fmt.Errorf("list tokens to revoke of tenant %d: %w", t.ID, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (pending, error) {
		var p pending
		err := row.Scan(append(p.scanTargets(), &p.hash, &p.sealed)...)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens to revoke of tenant %d: %w", t.ID, err)
	}
	return list, nil
}

// revokeBatch revokes batch upstream, Parallel at a time, and sorts the tokens into revoked,
// refused for good, and an error for the rest (the first one met).
func (w *RevokeTenantWorker) revokeBatch(ctx context.Context, t *tenants.Tenant, batch []pending) ([]Record, []failure, error) {
	s := w.svc
	var (
		mu       sync.Mutex
		revoked  []Record
		failed   []failure
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, cmp.Or(w.Parallel, 8))
	)
	for _, p := range batch {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := s.revokeUpstream(ctx, t, p)
			mu.Lock()
			defer mu.Unlock()
			var up *UpstreamError
			switch {
			case err == nil:
				revoked = append(revoked, p.Record)
			case errors.As(err, &up) && up.Status() == 400:
				failed = append(failed, failure{Record: p.Record, message: up.Message()})
			case firstErr == nil:
				firstErr = fmt.Errorf("revoke token %s of tenant %d: %w", p.ID, t.ID, err)
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return revoked, failed, firstErr
}

// revokeUpstream revokes one token with the keyset's current secret key.
func (s *Service) revokeUpstream(ctx context.Context, t *tenants.Tenant, p pending) error {
	ks, err := s.keyset(t, p.Environment)
	if err != nil {
		return err
	}
	token, err := s.opts.Keyring.Open(p.sealed, TokenAAD(t.ID, p.hash))
	if err != nil {
		return fmt.Errorf("open token %s: %w", p.ID, err)
	}
	defer clear(token)
	return s.withKeys(t, ks, func(keys accessmanager.Keys) error {
		return s.upstream(ctx, "revoke", func(ctx context.Context) error { return s.opts.Client.Revoke(ctx, keys, string(token)) })
	})
}

// recordFailed marks tokens Access Manager refused to revoke, and says so on the timeline.
func (s *Service) recordFailed(ctx context.Context, tenantID int64, failed []failure) error {
	if len(failed) == 0 {
		return nil
	}
	ids, msgs := make([]string, len(failed)), make([]string, len(failed))
	events := make([]tenants.Event, len(failed))
	for i, f := range failed {
		ids[i], msgs[i] = f.ID, f.message
		events[i] = tenants.Event{Actor: revokeActor, Action: tenants.ActionTokenRevokeFailed, Detail: map[string]any{
			"tokenId": f.ID, "environment": f.Environment, "error": "PubNub refused the revocation: " + f.message,
		}}
	}
	return postgres.WithTx(ctx, s.opts.Pool, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			UPDATE issued_tokens k SET revoke_error = f.msg
			FROM unnest($2::text[], $3::text[]) AS f(id, msg)
			WHERE k.tenant_id = $1 AND k.id = f.id`, tenantID, ids, msgs)
		if err != nil {
			return fmt.Errorf("record refused revocations of tenant %d: %w", tenantID, err)
		}
		return tenants.AddEvents(ctx, tx, tenantID, events...)
	})
}

package usage

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// QueueUsage is the River queue of the usage jobs, apart from provisioning and webhooks (so it
// can be paused on its own in the job UI).
const QueueUsage = "usage"

// liveStates are the job states in which a usage job is unique: at most one waits or runs.
func liveStates() []rivertype.JobState {
	return []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}
}

// SyncArgs is the usage sync job: one pass over every tenant (Syncer.Pass). The periodic job
// inserts one every interval; it is unique among jobs still to run or running, so a pass that
// takes longer than the interval (a first backfill of many tenants under a small budget) is not
// doubled, and the next pass starts after it ends.
type SyncArgs struct{}

// Kind is the job's stable name.
func (SyncArgs) Kind() string { return "usage_sync" }

// InsertOpts puts the job on QueueUsage, unique among live jobs. Snoozes (the budget said wait)
// spend no attempt; attempts count only our own failures (the database).
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueUsage, MaxAttempts: 25,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: liveStates()}}
}

// SyncWorker runs a pass a slice at a time: it keeps the pass's Cursor in the job (River's
// resumable cursor), so a snooze, a retry or a soft stop resumes the pass where it stopped.
type SyncWorker struct {
	river.WorkerDefaults[SyncArgs]
	syncer *Syncer
	slice  time.Duration
}

// SyncWorkerOpts tune NewSyncWorker; nil means defaults.
type SyncWorkerOpts struct {
	// Slice bounds one attempt; then the job hands itself back (a snooze of zero) and
	// continues in a fresh attempt. Zero means two minutes.
	Slice time.Duration
}

// NewSyncWorker returns the worker of SyncArgs jobs.
func NewSyncWorker(s *Syncer, opts *SyncWorkerOpts) *SyncWorker {
	w := &SyncWorker{syncer: s, slice: 2 * time.Minute}
	if opts != nil && opts.Slice > 0 {
		w.slice = opts.Slice
	}
	return w
}

// Timeout bounds an attempt, far above its slice.
func (w *SyncWorker) Timeout(*river.Job[SyncArgs]) time.Duration { return 5 * time.Minute }

// Work continues the pass. When the budget refuses a call (a *provisioner.NoBudgetError: the
// background share is spent, or signups or operator work are waiting) or upstream answers 429,
// the job snoozes for the wait the refusal names: nothing is retried in a loop, and no attempt
// is spent.
func (w *SyncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	river.ResumableStepCursor(ctx, "pass", nil, func(ctx context.Context, cur Cursor) error {
		err := w.syncer.Pass(ctx, &cur, time.Now().Add(w.slice))
		if err == nil {
			return nil
		}
		if setErr := river.ResumableSetCursor(ctx, cur); setErr != nil {
			return errors.Join(err, setErr)
		}
		var wait *WaitError
		switch {
		case errors.As(err, &wait):
			w.syncer.opts.Logger.DebugContext(ctx, "usage sync waits for the budget; snoozing", "wait", wait.Wait, "job_id", job.ID)
			return river.JobSnooze(wait.Wait + time.Duration(rand.Int64N(int64(250*time.Millisecond))))
		case errors.Is(err, ErrSliceEnded), ctx.Err() != nil:
			return river.JobSnooze(0)
		}
		return err
	})
	return nil
}

// PeriodicSync inserts the sync job every interval on the leader, and once at start.
func PeriodicSync(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return SyncArgs{}, nil },
		&river.PeriodicJobOpts{ID: "usage_sync", RunOnStart: true})
}

// PruneArgs is the job that deletes usage older than RetentionMonths.
type PruneArgs struct{}

// Kind is the job's stable name.
func (PruneArgs) Kind() string { return "usage_prune" }

// InsertOpts puts the job on QueueUsage, unique among live jobs.
func (PruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueUsage, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: liveStates()}}
}

// PruneWorker deletes what is older than the retention.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	Pool   *pgxpool.Pool
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: discard
}

// Timeout bounds the prune.
func (w *PruneWorker) Timeout(*river.Job[PruneArgs]) time.Duration { return 10 * time.Minute }

// Work deletes daily and monthly usage before RetentionStart.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	n, err := prune(ctx, w.Pool, RetentionStart(now))
	if err != nil {
		return err
	}
	if n > 0 && w.Logger != nil {
		w.Logger.InfoContext(ctx, "usage pruned", "rows", n, "before", RetentionStart(now).Format(time.DateOnly))
	}
	return nil
}

// PeriodicPrune inserts the prune job every six hours on the leader, and once at start (a
// leader that changes often would otherwise never reach a daily interval).
func PeriodicPrune() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(6*time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return PruneArgs{}, nil },
		&river.PeriodicJobOpts{ID: "usage_prune", RunOnStart: true})
}

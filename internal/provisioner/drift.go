package provisioner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// The drift sweep checks every tenant at rest against PubNub's listings, cheaply: the OEM
// customers listing (one unpaginated call, with keyset counts), the apps and keysets
// listings (100 a page), and the configurations of keysets that must be locked (the
// listings do not show Access Manager), as many as the sweep's call goal leaves room for,
// longest unread first. For 10,000 tenants of three environments the goal is 500 calls: the
// listings take 1 + 100 + 300, and 99 configs fill the rest; later sweeps read the others in
// turn. That is not the 50,000 reads of a check per tenant. A tenant whose entries differ is
// a suspect: it gets a check of its own (check.go), which reads it back in full, records its
// drift and repairs what is safe. Everyone else is marked checked, except a tenant with a
// locked keyset whose config this sweep did not read: it is confirmed (its listings agree)
// but keeps its last check time until its turn comes.
//
// A sweep records its progress in drift_runs after every page, so one cut short (a snooze
// while the budget's background share is spent, a crash) resumes at the page it was at.

// DriftSweepArgs is the drift sweep's job.
type DriftSweepArgs struct{}

// Kind is the job's stable name.
func (DriftSweepArgs) Kind() string { return "drift_sweep" }

// InsertOpts keep one sweep at a time.
func (DriftSweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}}}
}

// DriftUpstream is what the sweep reads.
type DriftUpstream interface {
	ListCustomers(ctx context.Context, appID string) ([]pubnub.Customer, error)
	ListAppsPage(ctx context.Context, page, limit int) ([]pubnub.App, int, error)
	ListKeysetsPage(ctx context.Context, page, limit int) ([]pubnub.Keyset, int, error)
	GetKeysetConfig(ctx context.Context, keysetID string) (*pubnub.KeysetConfig, error)
}

// DriftWorkerOpts wire a DriftWorker.
type DriftWorkerOpts struct {
	Pool     *pgxpool.Pool
	Upstream DriftUpstream
	Logger   *slog.Logger
	// CallGoal is the most Admin API calls one sweep aims at, listings included: locked
	// keysets' configs are read while there is room left under it (and at least a fiftieth of
	// it, so that configs are read even when the listings alone exceed it). Zero means 500
	// calls per 10,000 tenants holding resources, and never less than 500.
	CallGoal int
	// AttemptSlice bounds one attempt, as for the reconcile worker; zero means two minutes.
	AttemptSlice time.Duration
	// Interval is how often a sweep is due: a job finding none open and the last one begun
	// less than nine tenths of it ago does nothing (the periodic job also runs at start-up,
	// and a deploy must not cost a sweep). Zero: every job sweeps.
	Interval time.Duration
}

// DriftWorker does the sweep.
type DriftWorker struct {
	river.WorkerDefaults[DriftSweepArgs]
	opts DriftWorkerOpts
}

// NewDriftWorker returns the drift sweep's worker.
func NewDriftWorker(opts DriftWorkerOpts) *DriftWorker {
	if opts.AttemptSlice == 0 {
		opts.AttemptSlice = 2 * time.Minute
	}
	return &DriftWorker{opts: opts}
}

// Timeout bounds one attempt; progress is kept per page.
func (w *DriftWorker) Timeout(*river.Job[DriftSweepArgs]) time.Duration { return 5 * time.Minute }

// PeriodicDriftSweep schedules the sweep every interval on the leader, and at start-up (the
// worker skips a sweep that is not due yet, see DriftWorkerOpts.Interval).
func PeriodicDriftSweep(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return DriftSweepArgs{}, nil },
		&river.PeriodicJobOpts{ID: "drift_sweep", RunOnStart: true})
}

const listPage = 100 // the most a listing page holds

// The phases of a sweep, in order.
const (
	phaseCustomers = "customers"
	phaseApps      = "apps"
	phaseKeysets   = "keysets"
	phaseConfigs   = "configs"
	phaseSettle    = "settle"
	phaseDone      = "done"
)

// DriftRun is one sweep's progress.
type DriftRun struct {
	ID         int64
	StartedAt  time.Time
	Phase      string
	NextPage   int // the next listing page; in the configs phase, the configs read so far
	Calls      int
	Suspects   int
	FinishedAt *time.Time
}

// errRunMoved says another attempt advanced the run first (a rescued job still running).
var errRunMoved = errors.New("the drift run was advanced elsewhere")

// Work carries the open run (or a new one) to its end.
func (w *DriftWorker) Work(ctx context.Context, _ *river.Job[DriftSweepArgs]) error {
	ctx = WithClass(ctx, ClassBackground)
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("drift sweep: %w", err)
	}
	enq := &Enqueuer{Client: client}
	if w.opts.Interval > 0 {
		due, err := sweepDue(ctx, w.opts.Pool, w.opts.Interval*9/10)
		if err != nil || !due {
			return err
		}
	}
	run, err := openRun(ctx, w.opts.Pool)
	if err != nil {
		return err
	}
	started := time.Now()
	for run.Phase != phaseDone {
		if time.Since(started) > w.opts.AttemptSlice {
			return river.JobSnooze(0)
		}
		err := w.step(ctx, enq, run)
		if wait, ok := IsNoBudget(err); ok {
			return river.JobSnooze(wait + jitter())
		}
		if errors.Is(err, errRunMoved) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	w.opts.Logger.InfoContext(ctx, "drift sweep done", "run", run.ID, "calls", run.Calls, "suspects", run.Suspects,
		"took", run.FinishedAt.Sub(run.StartedAt).Round(time.Second))
	return nil
}

// step reads one page (or config) and records what it showed, advancing run.
func (w *DriftWorker) step(ctx context.Context, enq *Enqueuer, run *DriftRun) error {
	up := w.opts.Upstream
	switch run.Phase {
	case phaseCustomers:
		list, err := up.ListCustomers(ctx, "")
		if err != nil {
			return err
		}
		seen := make([]tenants.SeenCustomer, len(list))
		for i, c := range list {
			seen[i] = tenants.SeenCustomer{ID: c.ID, ExternalID: c.ExternalID, Name: c.Name, KeysetCount: c.KeysetCount}
		}
		return w.advance(ctx, enq, run, phaseApps, 1, 1, func(ctx context.Context, tx pgx.Tx) ([]int64, error) {
			return tenants.SuspectCustomers(ctx, tx, run.ID, run.StartedAt, seen)
		})
	case phaseApps:
		apps, total, err := up.ListAppsPage(ctx, run.NextPage, listPage)
		if err != nil {
			return err
		}
		seen := make([]tenants.SeenApp, len(apps))
		for i, a := range apps {
			seen[i] = tenants.SeenApp{ID: a.ID, Name: a.Name}
		}
		phase, page := phaseApps, run.NextPage+1
		if run.NextPage*listPage >= total || len(apps) == 0 {
			phase, page = phaseKeysets, 1
		}
		return w.advance(ctx, enq, run, phase, page, 1, func(ctx context.Context, tx pgx.Tx) ([]int64, error) {
			return tenants.SuspectApps(ctx, tx, run.ID, run.StartedAt, seen)
		})
	case phaseKeysets:
		keysets, total, err := up.ListKeysetsPage(ctx, run.NextPage, listPage)
		if err != nil {
			return err
		}
		seen := make([]tenants.SeenKeyset, len(keysets))
		for i, k := range keysets {
			seen[i] = tenants.SeenKeyset{ID: k.ID, Name: k.Name, AppID: k.AppID}
		}
		phase, page := phaseKeysets, run.NextPage+1
		if run.NextPage*listPage >= total || len(keysets) == 0 {
			phase, page = phaseConfigs, 0
		}
		return w.advance(ctx, enq, run, phase, page, 1, func(ctx context.Context, tx pgx.Tx) ([]int64, error) {
			return tenants.SuspectKeysets(ctx, tx, run.ID, run.StartedAt, seen)
		})
	case phaseConfigs:
		goal, err := w.callGoal(ctx)
		if err != nil {
			return err
		}
		if run.Calls >= goal && run.NextPage >= goal/50 {
			return w.advance(ctx, enq, run, phaseSettle, 0, 0, nil)
		}
		refs, err := tenants.LockedToRead(ctx, w.opts.Pool, run.StartedAt, 1)
		if err != nil {
			return err
		}
		if len(refs) == 0 {
			return w.advance(ctx, enq, run, phaseSettle, 0, 0, nil)
		}
		ref := refs[0]
		cfg, err := up.GetKeysetConfig(ctx, ref.KeysetID)
		if err != nil && !pubnub.IsNotFound(err) {
			return err
		}
		return w.advance(ctx, enq, run, phaseConfigs, run.NextPage+1, 1, func(ctx context.Context, tx pgx.Tx) ([]int64, error) {
			if err := tenants.MarkConfigRead(ctx, tx, ref, time.Now().UTC()); err != nil {
				return nil, err
			}
			if cfg == nil || !accessManagerOn(cfg) {
				return []int64{ref.TenantID}, nil
			}
			return nil, nil
		})
	case phaseSettle:
		return w.advance(ctx, enq, run, phaseDone, 0, 0, func(ctx context.Context, tx pgx.Tx) ([]int64, error) {
			ids, err := tenants.SuspectUnseen(ctx, tx, run.ID, run.StartedAt)
			if err != nil {
				return nil, err
			}
			// Suspects first (their check is asked, so they are not marked in sync), then
			// everyone else at rest is: checked, unless a locked keyset's config was not read.
			n, err := tenants.RequestChecks(ctx, tx, enq, run.StartedAt, ids, tenants.CheckBySweep)
			if err != nil {
				return nil, err
			}
			run.Suspects += n
			confirmed, checked, err := tenants.MarkSwept(ctx, tx, run.StartedAt, time.Now().UTC())
			if err != nil {
				return nil, err
			}
			if checked < confirmed {
				w.opts.Logger.InfoContext(ctx, "drift sweep left locked keysets' configs for a later sweep",
					"run", run.ID, "tenants_in_sync", confirmed, "tenants_checked", checked)
			}
			return nil, nil
		})
	}
	return fmt.Errorf("drift run %d in unknown phase %q", run.ID, run.Phase)
}

// advance records, in one transaction, what a page showed (compare names the suspects,
// whose checks are asked) and the run's next position, unless another attempt moved the run
// first.
func (w *DriftWorker) advance(ctx context.Context, enq *Enqueuer, run *DriftRun, phase string, page, calls int,
	compare func(ctx context.Context, tx pgx.Tx) ([]int64, error)) error {
	next := *run
	err := postgres.WithTx(ctx, w.opts.Pool, func(ctx context.Context, tx pgx.Tx) error {
		if compare != nil {
			suspects, err := compare(ctx, tx)
			if err != nil {
				return err
			}
			n, err := tenants.RequestChecks(ctx, tx, enq, run.StartedAt, suspects, tenants.CheckBySweep)
			if err != nil {
				return err
			}
			next.Suspects = run.Suspects + n
		}
		next.Phase, next.NextPage, next.Calls = phase, page, run.Calls+calls
		if phase == phaseDone {
			next.FinishedAt = new(time.Now().UTC())
		}
		tag, err := tx.Exec(ctx, `
			UPDATE drift_runs SET phase = $3, next_page = $4, calls = $5, suspects = $6, finished_at = $7
			WHERE id = $1 AND phase = $2 AND next_page = $8`,
			run.ID, run.Phase, next.Phase, next.NextPage, next.Calls, next.Suspects, next.FinishedAt, run.NextPage)
		if err != nil {
			return fmt.Errorf("advance drift run %d: %w", run.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return errRunMoved
		}
		return nil
	})
	if err == nil {
		*run = next
	}
	return err
}

// Sweep call goals: 500 calls for every 10,000 tenants holding resources, and never less.
const (
	goalCalls   = 500
	goalTenants = 10_000
)

// callGoal is the calls this sweep aims at (DriftWorkerOpts.CallGoal).
func (w *DriftWorker) callGoal(ctx context.Context) (int, error) {
	if w.opts.CallGoal > 0 {
		return w.opts.CallGoal, nil
	}
	n, err := tenants.CountHolding(ctx, w.opts.Pool)
	if err != nil {
		return 0, err
	}
	return max(goalCalls, (n*goalCalls+goalTenants-1)/goalTenants), nil
}

// sweepDue reports whether a run is open, or none has begun within the last since.
func sweepDue(ctx context.Context, db postgres.DBTX, since time.Duration) (bool, error) {
	var due bool
	err := db.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM drift_runs WHERE finished_at IS NULL)
		    OR NOT EXISTS (SELECT 1 FROM drift_runs WHERE started_at > now() - $1 * interval '1 millisecond')`,
		since.Milliseconds()).Scan(&due)
	if err != nil {
		return false, fmt.Errorf("is a drift sweep due: %w", err)
	}
	return due, nil
}

// openRun returns the unfinished run, or starts one.
func openRun(ctx context.Context, db postgres.DBTX) (*DriftRun, error) {
	run, err := scanRun(db.QueryRow(ctx, `SELECT `+runColumns+` FROM drift_runs WHERE finished_at IS NULL ORDER BY id DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		run, err = scanRun(db.QueryRow(ctx, `INSERT INTO drift_runs DEFAULT VALUES RETURNING `+runColumns))
	}
	if err != nil {
		return nil, fmt.Errorf("open drift run: %w", err)
	}
	return run, nil
}

const runColumns = `id, started_at, phase, next_page, calls, suspects, finished_at`

func scanRun(row pgx.Row) (*DriftRun, error) {
	var r DriftRun
	if err := row.Scan(&r.ID, &r.StartedAt, &r.Phase, &r.NextPage, &r.Calls, &r.Suspects, &r.FinishedAt); err != nil {
		return nil, err
	}
	return &r, nil
}

// LastDriftRun returns the latest finished sweep (ok false when none has finished).
func LastDriftRun(ctx context.Context, db postgres.DBTX) (*DriftRun, bool, error) {
	run, err := scanRun(db.QueryRow(ctx, `SELECT `+runColumns+` FROM drift_runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the last drift run: %w", err)
	}
	return run, true, nil
}

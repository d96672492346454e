package provisioner

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// SweepArgs is the periodic job that re-enqueues reconciles for tenants left mid-way with no
// job to finish them: a job cancelled or deleted by hand in the job UI, or one lost some other
// way. A tenant whose job is alive is untouched (the reconcile job is unique per tenant).
type SweepArgs struct{}

// Kind is the job's stable name.
func (SweepArgs) Kind() string { return "tenants_sweep" }

// SweepWorker does the sweep.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	Pool *pgxpool.Pool
	// QuietFor is how long a tenant must have been unchanged to be swept; zero means 10 min.
	QuietFor time.Duration
}

// Work enqueues a reconcile for every quiet tenant that is not where it should be.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	quiet := w.QuietFor
	if quiet == 0 {
		quiet = 10 * time.Minute
	}
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return postgres.WithTx(ctx, w.Pool, func(ctx context.Context, tx pgx.Tx) error {
		ids, err := tenants.ListInFlight(ctx, tx, quiet, 1000)
		if err != nil || len(ids) == 0 {
			return err
		}
		params := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: ReconcileArgs{TenantID: id}}
		}
		if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		return nil
	})
}

// PeriodicSweep schedules the sweep every five minutes on the leader.
func PeriodicSweep() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(5*time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil },
		&river.PeriodicJobOpts{ID: "tenants_sweep"})
}

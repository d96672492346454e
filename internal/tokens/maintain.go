package tokens

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// MaintainArgs is the periodic job that keeps the issued tokens: it counts grants onto the
// tenants' timelines, prunes expired tokens, and starts any token revocation a disable missed.
type MaintainArgs struct{}

// Kind is the job's stable name.
func (MaintainArgs) Kind() string { return "tokens_maintain" }

// PeriodicMaintain schedules MaintainArgs every ten minutes on the leader. Not at start: a
// disable's revocation is its own job (EnqueueRevokeAll), and the sweep is only a backstop.
func PeriodicMaintain() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(10*time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return MaintainArgs{}, nil },
		&river.PeriodicJobOpts{ID: "tokens_maintain"})
}

// MaintainWorker works MaintainArgs, in three steps:
//
//   - Rollup. A grant writes only its token's row, so the timeline learns of grants here: for
//     every hour (UTC) that ended at least Margin ago and was not counted yet, each tenant that
//     was granted tokens gets one tokens_granted entry {hour, count, environments: {name: n}}
//     (never a token). The counted hours and their entries commit together, so each hour is
//     counted exactly once, on any replica.
//   - Prune. Tokens that have expired and were counted are deleted, in batches.
//   - Sweep. A tenant whose disable completed but which still holds live, unrevoked tokens of an
//     older generation (a grant that was answered while the disable ran and was recorded after
//     its revocation job; a job that gave up) gets a RevokeTenantArgs job.
type MaintainWorker struct {
	river.WorkerDefaults[MaintainArgs]
	svc *Service
	// Margin is how long after an hour ends it is counted, so that grants still committing
	// are in; zero means five minutes.
	Margin time.Duration
}

// NewMaintainWorker returns the worker; opts.Tenants is not used.
func NewMaintainWorker(opts ServiceOpts) *MaintainWorker {
	return &MaintainWorker{svc: NewService(opts)}
}

// Timeout bounds one run.
func (w *MaintainWorker) Timeout(*river.Job[MaintainArgs]) time.Duration { return 5 * time.Minute }

// Work rolls up, prunes and sweeps.
func (w *MaintainWorker) Work(ctx context.Context, _ *river.Job[MaintainArgs]) error {
	if _, err := w.Rollup(ctx); err != nil {
		return err
	}
	if _, err := w.Prune(ctx); err != nil {
		return err
	}
	_, err := w.Sweep(ctx)
	return err
}

// rollupActor is the timeline's actor of grant counts.
const rollupActor = "tokens"

// Rollup counts the grants of every whole hour not yet counted onto the timelines, and returns
// how many tokens_granted entries it wrote.
func (w *MaintainWorker) Rollup(ctx context.Context) (int, error) {
	margin := cmp.Or(w.Margin, 5*time.Minute)
	return postgres.WithTxV(ctx, w.svc.opts.Pool, func(ctx context.Context, tx pgx.Tx) (int, error) {
		var from, until time.Time
		var due bool
		err := tx.QueryRow(ctx, `
			SELECT counted_until, u.until, u.until > counted_until
			FROM issued_tokens_rollup,
			     LATERAL (SELECT date_trunc('hour', now() - $1 * interval '1 millisecond', 'UTC') AS until) u
			FOR UPDATE OF issued_tokens_rollup`, margin.Milliseconds()).Scan(&from, &until, &due)
		if err != nil || !due {
			if err != nil {
				err = fmt.Errorf("token rollup: %w", err)
			}
			return 0, err
		}
		rows, err := tx.Query(ctx, `
			SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour, environment, sum(grants)::bigint
			FROM issued_tokens
			WHERE created_at >= $1 AND created_at < $2
			GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, from, until)
		if err != nil {
			return 0, fmt.Errorf("token rollup: %w", err)
		}
		type key struct {
			tenant int64
			hour   time.Time
		}
		var (
			order  []key
			counts = map[key]map[string]int64{}
		)
		var (
			tenant int64
			hour   time.Time
			env    string
			n      int64
		)
		_, err = pgx.ForEachRow(rows, []any{&tenant, &hour, &env, &n}, func() error {
			k := key{tenant, hour}
			if counts[k] == nil {
				order = append(order, k)
				counts[k] = map[string]int64{}
			}
			counts[k][env] += n
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("token rollup: %w", err)
		}
		written := 0
		for i := 0; i < len(order); {
			var events []tenants.Event
			t := order[i].tenant
			for ; i < len(order) && order[i].tenant == t; i++ {
				k := order[i]
				var total int64
				envs := map[string]any{}
				for e, c := range counts[k] {
					total += c
					envs[e] = c
				}
				events = append(events, tenants.Event{Actor: rollupActor, Action: tenants.ActionTokensGranted, Detail: map[string]any{
					"hour": k.hour.UTC().Format(time.RFC3339), "count": total, "environments": envs,
				}})
			}
			if err := tenants.AddEvents(ctx, tx, t, events...); err != nil {
				return 0, err
			}
			written += len(events)
		}
		if _, err := tx.Exec(ctx, `UPDATE issued_tokens_rollup SET counted_until = $1`, until); err != nil {
			return 0, fmt.Errorf("token rollup: %w", err)
		}
		return written, nil
	})
}

// Prune deletes expired tokens that were counted, and returns how many.
func (w *MaintainWorker) Prune(ctx context.Context) (int64, error) {
	const batch = 5000
	var total int64
	for {
		tag, err := w.svc.opts.Pool.Exec(ctx, `
			DELETE FROM issued_tokens WHERE id IN (
				SELECT id FROM issued_tokens
				WHERE expires_at <= now() AND created_at < (SELECT counted_until FROM issued_tokens_rollup)
				LIMIT $1)`, batch)
		if err != nil {
			return total, fmt.Errorf("prune tokens: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < batch {
			return total, nil
		}
	}
}

// Sweep enqueues a revocation for every tenant with a locked keyset (a disable, a retired
// environment) that still has live tokens granted before that lock, and returns how many it
// enqueued (duplicates of a job still to finish coalesce). A keyset whose lock is still under
// way is left to that lock's completion.
func (w *MaintainWorker) Sweep(ctx context.Context) (int, error) {
	return postgres.WithTxV(ctx, w.svc.opts.Pool, func(ctx context.Context, tx pgx.Tx) (int, error) {
		rows, err := tx.Query(ctx, `
			SELECT tenant_id, environment, min(lock_generation) FROM issued_tokens
			WHERE revoked_at IS NULL AND revoke_error IS NULL AND expires_at > now()
			GROUP BY tenant_id, environment ORDER BY tenant_id LIMIT 10000`)
		if err != nil {
			return 0, fmt.Errorf("sweep token revocations: %w", err)
		}
		type oldest struct {
			tenantID int64
			env      string
			gen      int
		}
		live, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (oldest, error) {
			var o oldest
			return o, row.Scan(&o.tenantID, &o.env, &o.gen)
		})
		if err != nil {
			return 0, fmt.Errorf("sweep token revocations: %w", err)
		}
		ids := make([]int64, 0, len(live))
		for _, o := range live {
			ids = append(ids, o.tenantID)
		}
		floors, err := tenants.LockFloors(ctx, tx, ids)
		if err != nil {
			return 0, err
		}
		var jobs []RevokeTenantArgs
		seen := map[int64]bool{}
		for _, o := range live {
			floor, locked := floors[o.tenantID][o.env]
			if !locked || o.gen >= floor || seen[o.tenantID] || len(jobs) == 1000 {
				continue
			}
			seen[o.tenantID] = true
			_, gen, err := tenants.LockState(ctx, tx, o.tenantID)
			if err != nil {
				return 0, err
			}
			jobs = append(jobs, RevokeTenantArgs{TenantID: o.tenantID, Generation: gen})
		}
		return len(jobs), insertRevokeJobs(ctx, tx, jobs)
	})
}

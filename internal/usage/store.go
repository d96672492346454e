package usage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pnonboard/pnonboard/internal/postgres"
)

// The SQL on the usage tables. Tenants come from internal/tenants; these tables are ours.

// stateKey names a sync target: a tenant's app (environment "") or one environment's keyset.
type stateKey struct {
	tenantID    int64
	environment string
}

// syncState is a usage_sync_state row.
type syncState struct {
	metrics    []string
	through    *time.Time // every metric in metrics is stored through this day
	failures   int
	retryAfter *time.Time
}

// covers reports whether the state's days hold every one of metrics.
func (st syncState) covers(metrics []string) bool {
	for _, m := range metrics {
		if !slices.Contains(st.metrics, m) {
			return false
		}
	}
	return true
}

// loadStates reads the sync state of every target of the tenants ids.
func loadStates(ctx context.Context, db postgres.DBTX, ids []int64) (map[stateKey]syncState, error) {
	rows, err := db.Query(ctx, `
		SELECT tenant_id, environment, metrics, synced_through, failures, retry_after
		FROM usage_sync_state WHERE tenant_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("load usage sync state: %w", err)
	}
	out := map[stateKey]syncState{}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var k stateKey
		var st syncState
		err := row.Scan(&k.tenantID, &k.environment, &st.metrics, &st.through, &st.failures, &st.retryAfter)
		out[k] = st
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("load usage sync state: %w", err)
	}
	return out, nil
}

// dayValues are one answer's figures, flattened for unnest: values[i] is metric metrics[i] on
// day days[i].
type dayValues struct {
	days    []time.Time
	metrics []string
	values  []float64
}

// storeSeries writes one target's answer for the days from..end in tx: the answer's values
// replace what was stored (a row is rewritten only when its value changed), days from
// deleteFrom on that the answer no longer has are deleted (nil: delete nothing), the months
// touched are rolled up again, and the target is recorded as synced through end for metrics.
func storeSeries(ctx context.Context, tx pgx.Tx, k stateKey, metrics []string, from, end time.Time, deleteFrom *time.Time, v dayValues, now time.Time) error {
	if _, err := tx.Exec(ctx, `
		INSERT INTO usage_daily (tenant_id, environment, day, metric, value, updated_at)
		SELECT $1, $2, u.day, u.metric, u.value, $6 FROM unnest($3::date[], $4::text[], $5::float8[]) AS u(day, metric, value)
		ON CONFLICT (tenant_id, environment, day, metric) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
		WHERE usage_daily.value IS DISTINCT FROM EXCLUDED.value`,
		k.tenantID, k.environment, v.days, v.metrics, v.values, now); err != nil {
		return fmt.Errorf("store usage of tenant %d %q: %w", k.tenantID, k.environment, err)
	}
	if deleteFrom != nil {
		if _, err := tx.Exec(ctx, `
			DELETE FROM usage_daily d
			WHERE d.tenant_id = $1 AND d.environment = $2 AND d.day >= $3 AND d.day <= $4 AND d.metric = ANY($5)
			  AND NOT EXISTS (SELECT 1 FROM unnest($6::date[], $7::text[]) AS u(day, metric) WHERE u.day = d.day AND u.metric = d.metric)`,
			k.tenantID, k.environment, *deleteFrom, end, metrics, v.days, v.metrics); err != nil {
			return fmt.Errorf("delete withdrawn usage of tenant %d %q: %w", k.tenantID, k.environment, err)
		}
	}
	if err := rollUp(ctx, tx, k, Month(from), Month(end).AddDate(0, 1, 0)); err != nil {
		return err
	}
	return markSynced(ctx, tx, k, metrics, end, now)
}

// markSynced records that the target holds metrics through end, clearing any failure.
func markSynced(ctx context.Context, tx pgx.Tx, k stateKey, metrics []string, end, now time.Time) error {
	if _, err := tx.Exec(ctx, `
		INSERT INTO usage_sync_state (tenant_id, environment, metrics, synced_through, synced_at, failures, last_error, retry_after)
		VALUES ($1, $2, $3, $4, $5, 0, NULL, NULL)
		ON CONFLICT (tenant_id, environment) DO UPDATE SET metrics = EXCLUDED.metrics, synced_through = EXCLUDED.synced_through,
			synced_at = EXCLUDED.synced_at, failures = 0, last_error = NULL, retry_after = NULL`,
		k.tenantID, k.environment, metrics, end, now); err != nil {
		return fmt.Errorf("record usage sync of tenant %d %q: %w", k.tenantID, k.environment, err)
	}
	return nil
}

// recordFailure counts a failed call for the target and when to try it again.
func recordFailure(ctx context.Context, db postgres.DBTX, k stateKey, msg string, retryAfter time.Time) error {
	if _, err := db.Exec(ctx, `
		INSERT INTO usage_sync_state (tenant_id, environment, failures, last_error, retry_after)
		VALUES ($1, $2, 1, $3, $4)
		ON CONFLICT (tenant_id, environment) DO UPDATE SET failures = usage_sync_state.failures + 1,
			last_error = EXCLUDED.last_error, retry_after = EXCLUDED.retry_after`,
		k.tenantID, k.environment, msg, retryAfter); err != nil {
		return fmt.Errorf("record usage sync failure of tenant %d %q: %w", k.tenantID, k.environment, err)
	}
	return nil
}

// deriveAppLevel makes a tenant's app-level days (environment "") from..end the sums of its
// environments' days, when the sync reads keysets rather than the app: PubNub's app figure is
// the sum of its keysets'. Days from deleteFrom on that no environment has are deleted.
func deriveAppLevel(ctx context.Context, tx pgx.Tx, tenantID int64, environments, metrics []string, from, end time.Time, deleteFrom *time.Time, now time.Time) error {
	k := stateKey{tenantID: tenantID}
	if _, err := tx.Exec(ctx, `
		INSERT INTO usage_daily (tenant_id, environment, day, metric, value, updated_at)
		SELECT tenant_id, '', day, metric, sum(value), $6 FROM usage_daily
		WHERE tenant_id = $1 AND environment = ANY($2) AND day >= $3 AND day <= $4 AND metric = ANY($5)
		GROUP BY tenant_id, day, metric
		ON CONFLICT (tenant_id, environment, day, metric) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
		WHERE usage_daily.value IS DISTINCT FROM EXCLUDED.value`,
		tenantID, environments, from, end, metrics, now); err != nil {
		return fmt.Errorf("derive app usage of tenant %d: %w", tenantID, err)
	}
	if deleteFrom != nil {
		if _, err := tx.Exec(ctx, `
			DELETE FROM usage_daily d
			WHERE d.tenant_id = $1 AND d.environment = '' AND d.day >= $3 AND d.day <= $4 AND d.metric = ANY($5)
			  AND NOT EXISTS (SELECT 1 FROM usage_daily e WHERE e.tenant_id = $1 AND e.environment = ANY($2)
				AND e.day = d.day AND e.metric = d.metric)`,
			tenantID, environments, *deleteFrom, end, metrics); err != nil {
			return fmt.Errorf("derive app usage of tenant %d: %w", tenantID, err)
		}
	}
	if err := rollUp(ctx, tx, k, Month(from), Month(end).AddDate(0, 1, 0)); err != nil {
		return err
	}
	return markSynced(ctx, tx, k, metrics, end, now)
}

// monthlyValue is the SQL that makes a month's figure of usage_daily rows grouped by metric
// (see TotalKindOf): $mean is the parameter holding meanMetrics().
func monthlyValue(mean string) string {
	return `CASE WHEN metric LIKE 'mtd\_%' THEN (array_agg(value ORDER BY day DESC))[1]
		WHEN metric = ANY(` + mean + `) THEN avg(value) ELSE sum(value) END`
}

// rollUp recomputes the target's monthly figures for the months in [fromMonth, toMonth) from its
// days; a month's row changes only when its figure does.
func rollUp(ctx context.Context, tx pgx.Tx, k stateKey, fromMonth, toMonth time.Time) error {
	_, err := tx.Exec(ctx, `
		WITH agg AS (
			SELECT date_trunc('month', day)::date AS month, metric, `+monthlyValue("$5")+` AS value
			FROM usage_daily WHERE tenant_id = $1 AND environment = $2 AND day >= $3 AND day < $4
			GROUP BY 1, 2
		), up AS (
			INSERT INTO usage_monthly (tenant_id, environment, month, metric, value)
			SELECT $1, $2, month, metric, value FROM agg
			ON CONFLICT (tenant_id, environment, month, metric) DO UPDATE SET value = EXCLUDED.value
			WHERE usage_monthly.value IS DISTINCT FROM EXCLUDED.value
		)
		DELETE FROM usage_monthly m
		WHERE m.tenant_id = $1 AND m.environment = $2 AND m.month >= $3 AND m.month < $4
		  AND NOT EXISTS (SELECT 1 FROM agg WHERE agg.month = m.month AND agg.metric = m.metric)`,
		k.tenantID, k.environment, fromMonth, toMonth, meanMetrics())
	if err != nil {
		return fmt.Errorf("roll up usage of tenant %d %q: %w", k.tenantID, k.environment, err)
	}
	return nil
}

// RebuildMonthly recomputes every tenant's monthly figures for the months in [fromMonth,
// toMonth) from the daily rows: for rows written straight into usage_daily (the bench's seed, a
// repair by hand). The sync keeps them in step itself.
func RebuildMonthly(ctx context.Context, db postgres.TxBeginner, fromMonth, toMonth time.Time) error {
	fromMonth, toMonth = Month(fromMonth), Month(toMonth)
	return postgres.WithTx(ctx, db, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM usage_monthly WHERE month >= $1 AND month < $2`, fromMonth, toMonth); err != nil {
			return fmt.Errorf("rebuild monthly usage: %w", err)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO usage_monthly (tenant_id, environment, month, metric, value)
			SELECT tenant_id, environment, date_trunc('month', day)::date, metric, `+monthlyValue("$3")+`
			FROM usage_daily WHERE day >= $1 AND day < $2
			GROUP BY tenant_id, environment, date_trunc('month', day), metric`, fromMonth, toMonth, meanMetrics()); err != nil {
			return fmt.Errorf("rebuild monthly usage: %w", err)
		}
		return nil
	})
}

// prune deletes usage before cutoff (a 1st of a month), a batch at a time so no transaction
// grows large, and returns how many daily rows went.
func prune(ctx context.Context, db postgres.DBTX, cutoff time.Time) (int64, error) {
	var total int64
	for {
		tag, err := db.Exec(ctx, `
			DELETE FROM usage_daily WHERE ctid = ANY(ARRAY(SELECT ctid FROM usage_daily WHERE day < $1 LIMIT 10000))`, cutoff)
		if err != nil {
			return total, fmt.Errorf("prune usage: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() == 0 {
			break
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	if _, err := db.Exec(ctx, `DELETE FROM usage_monthly WHERE month < $1`, cutoff); err != nil {
		return total, fmt.Errorf("prune monthly usage: %w", err)
	}
	return total, nil
}

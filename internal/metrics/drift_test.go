package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/metrics"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tenants/tenantstest"
)

// driftSource reads the drift gauges as the server's does (cmd/server).
type driftSource struct{ db postgres.DBTX }

func (d driftSource) CountDrift(ctx context.Context) (map[tenants.DriftKind]int, error) {
	return tenants.CountDrift(ctx, d.db)
}

func (d driftSource) LastSweep(ctx context.Context) (time.Time, bool, error) {
	run, ok, err := provisioner.LastDriftRun(ctx, d.db)
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	return *run.FinishedAt, true, nil
}

func TestDriftMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	m := metrics.New(metrics.Sources{DB: db.Pool, Drift: driftSource{db.Pool}}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	// Nothing drifted, no sweep yet.
	tenantstest.Insert(t, db.Pool, "a", tenants.StateActive, "production")
	tenantstest.Insert(t, db.Pool, "b", tenants.StateActive, "production")
	tenantstest.Insert(t, db.Pool, "c", tenants.StateActive, "production")
	body := scrape(t, m)
	for _, k := range tenants.DriftKinds() {
		require.Contains(t, body, `pnonboard_tenants_drifted{kind="`+string(k)+`"} 0`)
	}
	require.Contains(t, body, "pnonboard_drift_sweep_age_seconds -1\n")

	// Two tenants drifted (one of them two ways, one kind twice), one in sync.
	now := time.Now().UTC()
	tenantstest.Change(t, db.Pool, "a", func(tn *tenants.Tenant) {
		tn.Drift = []tenants.Drift{
			{Kind: tenants.DriftCustomerRenamed, Resource: "customer x", Expected: `"A"`, Actual: `"B"`, DetectedAt: now},
			{Kind: tenants.DriftKeysetDeleted, Resource: "keyset 1 (production)", Expected: `"k"`, Actual: "deleted", DetectedAt: now},
			{Kind: tenants.DriftKeysetDeleted, Resource: "keyset 2 (staging)", Expected: `"k"`, Actual: "deleted", DetectedAt: now},
		}
	})
	tenantstest.Change(t, db.Pool, "b", func(tn *tenants.Tenant) {
		tn.Drift = []tenants.Drift{{Kind: tenants.DriftCustomerRenamed, Resource: "customer y", Expected: `"A"`, Actual: `"C"`, DetectedAt: now}}
	})
	// A drift run that finished 90 seconds ago, and an older one.
	for _, ago := range []int{600, 90} {
		_, err := db.Pool.Exec(ctx, `INSERT INTO drift_runs (started_at, phase, finished_at)
			VALUES (now() - ($1 + 5) * interval '1 second', 'done', now() - $1 * interval '1 second')`, ago)
		require.NoError(t, err)
	}

	body = scrape(t, m)
	require.Contains(t, body, `pnonboard_tenants_drifted{kind="`+string(tenants.DriftCustomerRenamed)+`"} 2`)
	require.Contains(t, body, `pnonboard_tenants_drifted{kind="`+string(tenants.DriftKeysetDeleted)+`"} 1`, "tenants, not entries")
	require.Contains(t, body, `pnonboard_tenants_drifted{kind="`+string(tenants.DriftAppDeleted)+`"} 0`)
	match := regexp.MustCompile(`(?m)^pnonboard_drift_sweep_age_seconds (\S+)$`).FindStringSubmatch(body)
	require.NotNil(t, match, body)
	age, err := strconv.ParseFloat(match[1], 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, age, 90.0, "the latest finished run counts")
	require.Less(t, age, 120.0)

	// An open run (started after, not finished) does not reset the age.
	_, err = db.Pool.Exec(ctx, `INSERT INTO drift_runs DEFAULT VALUES`)
	require.NoError(t, err)
	match = regexp.MustCompile(`(?m)^pnonboard_drift_sweep_age_seconds (\S+)$`).FindStringSubmatch(scrape(t, m))
	require.NotNil(t, match)
	age, err = strconv.ParseFloat(match[1], 64)
	require.NoError(t, err)
	require.GreaterOrEqual(t, age, 90.0)
}

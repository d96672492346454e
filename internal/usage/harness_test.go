package usage_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/testclock"
	"github.com/pnonboard/pnonboard/internal/usage"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

// t0 is when the tests' tenants are provisioned (by the sandbox's clock): far enough ahead of
// the database's own clock that every tenant row exists before it.
func t0() time.Time { return time.Date(2030, 1, 10, 10, 0, 0, 0, time.UTC) }

// date parses a YYYY-MM-DD day.
func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	require.NoError(t, err)
	return d
}

// harness is the usage sync over a real database and an httptest sandbox whose clock the test
// moves; tenants are provisioned by the real provisioner, through the shared budget.
type harness struct {
	db       *pgtest.DB
	clock    *testclock.Clock // the sandbox's and the sync's
	sb       *sandbox.Sandbox
	budget   *provisioner.Budget
	client   *pubnub.Client
	tenants  *tenants.Service
	keyring  *secrets.Keyring
	profiles provisioner.Profiles
	river    *river.Client[pgx.Tx]
}

type harnessOpts struct {
	sandbox   *sandbox.Opts // the clock is set on it; nil: no rate limit
	perMinute int           // the budget's limit; default 60000
	maxWait   time.Duration
}

func newHarness(t *testing.T, opts harnessOpts) *harness {
	t.Helper()
	ctx := context.Background()
	c := testclock.New(t0())
	sbOpts := &sandbox.Opts{RatePerMinute: -1}
	if opts.sandbox != nil {
		sbOpts = opts.sandbox
	}
	sbOpts.APIKey, sbOpts.Now = "usage-test-key", c.Now
	sb := sandbox.New(sbOpts)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	db := pgtest.NewDB(t)
	if opts.perMinute == 0 {
		opts.perMinute = 60000
	}
	budget, err := provisioner.NewBudget(db.Pool, provisioner.BudgetOpts{Name: "pubnub-admin", PerMinute: opts.perMinute, MaxWait: opts.maxWait})
	require.NoError(t, err)
	client := provisioner.NewClient(provisioner.ClientOpts{
		Budget: budget, BaseURL: srv.URL + "/v2", APIKey: sb.APIKey(), Version: pubnub.DefaultVersion, Timeout: 5 * time.Second,
	})
	keyring, err := secrets.NewKeyring(make([]byte, secrets.KeySize))
	require.NoError(t, err)
	profiles := provisioner.DefaultProfiles()
	h := &harness{db: db, clock: c, sb: sb, budget: budget, client: client, keyring: keyring, profiles: profiles}

	workers := river.NewWorkers()
	river.AddWorker(workers, provisioner.NewWorker(provisioner.WorkerOpts{
		Pool: db.Pool, Upstream: client, Keyring: keyring, Profiles: profiles, Logger: discard(),
	}))
	h.river, err = river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		Logger:            discard(),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 5}},
		Workers:           workers,
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		TestOnly:          true,
	})
	require.NoError(t, err)
	require.NoError(t, h.river.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.river.StopAndCancel(stopCtx)
	})
	h.tenants = tenants.NewService(tenants.ServiceOpts{
		DB: db.Pool, Enqueuer: &provisioner.Enqueuer{Client: h.river}, Opener: keyring,
		Environments: profiles.Environments(), DefaultEnvironments: profiles.Defaults(),
	})
	return h
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// provision signs a tenant up and waits until the provisioner has made it in the sandbox.
func (h *harness) provision(t *testing.T, externalID string, envs ...string) *tenants.Tenant {
	t.Helper()
	ctx := context.Background()
	p := tenants.CreateParams{ExternalID: externalID, Name: "Tenant " + externalID, Actor: "test"}
	if len(envs) > 0 {
		p.Environments = envs
	}
	_, _, err := h.tenants.Create(ctx, p)
	require.NoError(t, err)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		tn, err := h.tenants.GetByExternalID(ctx, externalID)
		require.NoError(t, err)
		switch tn.State {
		case tenants.StateActive:
			return tn
		case tenants.StateFailed:
			t.Fatalf("tenant %s failed: %s", externalID, tn.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("tenant %s not provisioned in time", externalID)
	return nil
}

// setDisabled records the tenant as disabled at `at` (the sandbox's clock is not the
// database's, so the provisioner's own disable would stamp a time outside the test's calendar).
func (h *harness) setDisabled(t *testing.T, tenantID int64, at time.Time) {
	t.Helper()
	err := postgres.WithTx(context.Background(), h.db.Pool, func(ctx context.Context, tx pgx.Tx) error {
		tn, err := tenants.GetForUpdate(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		tn.State, tn.Desired, tn.DisabledAt = tenants.StateDisabled, tenants.DesiredDisabled, &at
		return tenants.Save(ctx, tx, tn)
	})
	require.NoError(t, err)
}

// syncer is a Syncer over the harness, with opts' Pool, Upstream and Now filled in where unset.
func (h *harness) syncer(opts usage.SyncerOpts) *usage.Syncer {
	if opts.Pool == nil {
		opts.Pool = h.db.Pool
	}
	if opts.Upstream == nil {
		opts.Upstream = h.client
	}
	if opts.Now == nil {
		opts.Now = h.clock.Now
	}
	return usage.NewSyncer(opts)
}

// pass runs one whole pass at the harness's clock and returns how many usage calls reached the
// sandbox during it.
func (h *harness) pass(t *testing.T, s *usage.Syncer) int {
	t.Helper()
	before := h.sb.CallCount(sandbox.OpGetUsageMetrics)
	var cur usage.Cursor
	require.NoError(t, s.Pass(context.Background(), &cur, time.Time{}))
	return h.sb.CallCount(sandbox.OpGetUsageMetrics) - before
}

// storedRow is a usage_daily row with its row version.
type storedRow struct {
	Environment string
	Day         string
	Metric      string
	Value       float64
	UpdatedAt   time.Time
	XMin        string
}

// rows reads the tenant's stored days, keyed by environment/day/metric.
func (h *harness) rows(t *testing.T, tenantID int64) map[string]storedRow {
	t.Helper()
	rows, err := h.db.Pool.Query(context.Background(), `
		SELECT environment, to_char(day, 'YYYY-MM-DD'), metric, value, updated_at, xmin::text
		FROM usage_daily WHERE tenant_id = $1`, tenantID)
	require.NoError(t, err)
	out := map[string]storedRow{}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var r storedRow
		err := row.Scan(&r.Environment, &r.Day, &r.Metric, &r.Value, &r.UpdatedAt, &r.XMin)
		out[r.Environment+"/"+r.Day+"/"+r.Metric] = r
		return struct{}{}, err
	})
	require.NoError(t, err)
	return out
}

// syncedThrough reads a target's synced_through ("" when never synced).
func (h *harness) syncedThrough(t *testing.T, tenantID int64, env string) string {
	t.Helper()
	var through *time.Time
	err := h.db.Pool.QueryRow(context.Background(), `SELECT synced_through FROM usage_sync_state WHERE tenant_id = $1 AND environment = $2`,
		tenantID, env).Scan(&through)
	if errors.Is(err, pgx.ErrNoRows) {
		return ""
	}
	require.NoError(t, err)
	if through == nil {
		return ""
	}
	return through.Format(time.DateOnly)
}

// days lists the days from..to inclusive.
func days(t *testing.T, from, to string) []time.Time {
	t.Helper()
	var out []time.Time
	for d := date(t, from); !d.After(date(t, to)); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

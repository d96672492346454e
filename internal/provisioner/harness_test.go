package provisioner_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

// harness is the provisioner over a real database and an httptest sandbox, with River
// clients ("replicas") started and stopped at will.
type harness struct {
	t        *testing.T
	db       *pgtest.DB
	sb       *sandbox.Sandbox
	sbURL    string
	keyring  *secrets.Keyring
	profiles provisioner.Profiles
	tenants  *tenants.Service
	inserter *river.Client[pgx.Tx]
	opts     harnessOpts
}

type harnessOpts struct {
	logs          io.Writer // worker logs as JSON; nil discards them
	ratePerMinute int       // the budget's; default 6000 (tests are not about the limit)
	sandbox       *sandbox.Opts
	clientTimeout time.Duration // default 2 s
	announcer     provisioner.Announcer
	retryBase     time.Duration // the worker's first backoff; default one second
	driftCallGoal int           // the drift sweep's CallGoal; zero: its default
}

func newHarness(t *testing.T, opts harnessOpts) *harness {
	t.Helper()
	if opts.ratePerMinute == 0 {
		opts.ratePerMinute = 6000
	}
	if opts.clientTimeout == 0 {
		opts.clientTimeout = 2 * time.Second
	}
	db := pgtest.NewDB(t)
	sb := sandbox.New(opts.sandbox)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	keyring, err := secrets.NewKeyring(make([]byte, secrets.KeySize))
	require.NoError(t, err)

	// An insert-only client, as an API replica has.
	inserter, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{Workers: workersWith(nil, nil)})
	require.NoError(t, err)
	profiles := provisioner.DefaultProfiles()
	h := &harness{
		t: t, db: db, sb: sb, sbURL: srv.URL + "/v2", keyring: keyring, profiles: profiles, inserter: inserter, opts: opts,
		tenants: tenants.NewService(tenants.ServiceOpts{
			DB: db.Pool, Enqueuer: &provisioner.Enqueuer{Client: inserter}, Opener: keyring,
			Environments: profiles.Environments(), DefaultEnvironments: profiles.Defaults(),
		}),
	}
	return h
}

// workersWith registers the reconcile worker (a placeholder when w is nil, for inserting),
// the drift sweep (likewise), and the sweeper when given.
func workersWith(w *provisioner.Worker, drift *provisioner.DriftWorker, sweep ...*provisioner.SweepWorker) *river.Workers {
	workers := river.NewWorkers()
	if w == nil {
		w = provisioner.NewWorker(provisioner.WorkerOpts{})
	}
	if drift == nil {
		drift = provisioner.NewDriftWorker(provisioner.DriftWorkerOpts{})
	}
	river.AddWorker(workers, w)
	river.AddWorker(workers, drift)
	for _, s := range sweep {
		river.AddWorker(workers, s)
	}
	return workers
}

// startReplica starts a River client working reconcile jobs, like one pnonboard replica, and
// returns it; it is stopped (softly) at cleanup unless the test stops it first.
func (h *harness) startReplica(t *testing.T) *river.Client[pgx.Tx] {
	t.Helper()
	return h.startReplicaVia(t, nil)
}

// startReplicaVia is startReplica with base (nil: the default transport) under the budget,
// for every upstream call of the replica's workers.
func (h *harness) startReplicaVia(t *testing.T, base http.RoundTripper) *river.Client[pgx.Tx] {
	t.Helper()
	budget, err := provisioner.NewBudget(h.db.Pool, provisioner.BudgetOpts{Name: "pubnub-admin", PerMinute: h.opts.ratePerMinute})
	require.NoError(t, err)
	client := provisioner.NewClient(provisioner.ClientOpts{
		Budget: budget, BaseURL: h.sbURL, APIKey: h.sb.APIKey(), Version: "2026-02-09", Timeout: h.opts.clientTimeout, Base: base,
	})
	workerLogger := testLogger(t)
	if h.opts.logs != nil {
		workerLogger = logging.New(h.opts.logs, "json", slog.LevelDebug)
	}
	worker := provisioner.NewWorker(provisioner.WorkerOpts{
		Pool: h.db.Pool, Upstream: client, Keyring: h.keyring, Profiles: h.profiles,
		Announcer: h.opts.announcer, Logger: workerLogger, RetryBase: h.opts.retryBase,
	})
	rc, err := river.NewClient(riverpgxv5.New(h.db.Pool), &river.Config{
		Logger: testLogger(t),
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}},
		Workers: workersWith(worker, provisioner.NewDriftWorker(provisioner.DriftWorkerOpts{Pool: h.db.Pool, Upstream: client, Logger: workerLogger, CallGoal: h.opts.driftCallGoal}),
			&provisioner.SweepWorker{Pool: h.db.Pool, QuietFor: time.Millisecond}),
		FetchCooldown:     10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		TestOnly:          true,
	})
	require.NoError(t, err)
	require.NoError(t, rc.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rc.StopAndCancel(ctx)
	})
	return rc
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// create makes a tenant through the domain service, as the API does.
func (h *harness) create(t *testing.T, externalID string, envs ...string) *tenants.Tenant {
	t.Helper()
	p := tenants.CreateParams{ExternalID: externalID, Name: "Tenant " + externalID, Actor: "test"}
	if len(envs) > 0 {
		p.Environments = envs
	}
	tn, created, err := h.tenants.Create(context.Background(), p)
	require.NoError(t, err)
	require.True(t, created)
	return tn
}

// createActive makes a tenant and waits for it to be provisioned (active).
func (h *harness) createActive(t *testing.T, externalID string, envs ...string) *tenants.Tenant {
	t.Helper()
	h.create(t, externalID, envs...)
	return h.waitState(t, externalID, tenants.StateActive, settle)
}

// waitState waits for the tenant to reach state, failing with its timeline otherwise.
func (h *harness) waitState(t *testing.T, externalID string, state tenants.State, limit time.Duration) *tenants.Tenant {
	t.Helper()
	deadline := time.Now().Add(limit)
	var tn *tenants.Tenant
	for time.Now().Before(deadline) {
		var err error
		tn, err = h.tenants.GetByExternalID(context.Background(), externalID)
		require.NoError(t, err)
		if tn.State == state {
			return tn
		}
		time.Sleep(20 * time.Millisecond)
	}
	events, _, _ := h.tenants.Events(context.Background(), externalID, 200, "")
	for _, e := range events {
		t.Logf("%s %s %s %v", e.At.Format(time.StampMilli), e.Actor, e.Action, e.Detail)
	}
	t.Fatalf("tenant %s is %s (lastError %q), not %s, after %s", externalID, tn.State, tn.LastError, state, limit)
	return nil
}

// requireUpstreamExactlyOnce checks the sandbox holds exactly one app, one keyset per
// environment and one customer for the tenant, the customer holding every keyset, and that
// pnonboard stored those same IDs and the keysets' current secret keys.
func (h *harness) requireUpstreamExactlyOnce(t *testing.T, tn *tenants.Tenant) {
	t.Helper()
	var apps []sandbox.App
	for _, a := range h.sb.Apps() {
		if a.Name == tenants.AppName(tn.ExternalID) {
			apps = append(apps, a)
		}
	}
	require.Len(t, apps, 1, "apps upstream")
	require.Equal(t, apps[0].ID, tn.AppID)

	var custs []sandbox.Customer
	for _, c := range h.sb.Customers() {
		if c.ExternalID == tn.ExternalID {
			custs = append(custs, c)
		}
	}
	require.Len(t, custs, 1, "customers upstream")
	require.Equal(t, custs[0].ID, tn.CustomerID)

	byName := map[string][]sandbox.Keyset{}
	for _, k := range h.sb.Keysets() {
		byName[k.Name] = append(byName[k.Name], k)
	}
	var ids []string
	for _, k := range tn.Keysets {
		up := byName[k.UpstreamName]
		require.Len(t, up, 1, "keysets named %s upstream", k.UpstreamName)
		require.Equal(t, up[0].ID, k.KeysetID)
		require.Equal(t, tn.AppID, up[0].AppID)
		require.Equal(t, tn.CustomerID, up[0].CustomerID, "keyset %s assigned to the customer", k.Environment)
		require.True(t, k.Assigned)
		require.Equal(t, up[0].PublishKey, k.PublishKey)

		secret, err := h.keyring.Open(k.SecretKeySealed, tenants.SecretAAD(tn.ID, k.Environment))
		require.NoError(t, err)
		require.Equal(t, mainSecret(up[0]), string(secret), "stored secret of %s is the keyset's current one", k.Environment)
		ids = append(ids, k.KeysetID)
	}
	require.ElementsMatch(t, ids, custs[0].KeysetIDs())
}

func mainSecret(k sandbox.Keyset) string {
	for _, s := range k.SecretKeys {
		if s.ExpiresAt == nil {
			return s.Value
		}
	}
	return ""
}

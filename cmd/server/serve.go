package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"riverqueue.com/riverui"

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/api"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/console"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/metrics"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/rescue"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/tokens"
	tenantusage "github.com/pnonboard/pnonboard/internal/usage"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	migrate := fs.Bool("migrate", false, "apply pending migrations before serving")
	if help, err := parseFlags(fs, args, stderr); help || err != nil {
		return err
	}
	cfg, err := parseConfig(getenv, modeServe)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	a, err := newApp(ctx, cfg, logger, appOpts{migrate: *migrate})
	if err != nil {
		return err
	}
	defer a.close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return a.run(ctx, ln, a.handler, runOpts{})
}

// app is one pnonboard process, wired: the pool, migrations, River, the domain services and
// the HTTP handler. newApp builds it, run serves it until its context ends, close releases
// what is left. Dev mode builds the same app and composes around it (a sandbox beside the
// handler, a banner), so serve and dev share every line that matters.
type app struct {
	cfg      config
	logger   *slog.Logger
	pool     *pgxpool.Pool
	migrator *postgres.Migrator
	metrics  *metrics.Metrics
	river    *river.Client[pgx.Tx]
	// clientID is the River client's ID, the key of the replica's liveness lease ("" when the
	// replica runs no workers).
	clientID string
	services *services
	// watcher wakes Prefer: wait creates when their tenant's state changes.
	watcher *tenants.Watcher
	// handler is the API, the job UI and /metrics.
	handler http.Handler
	stopUI  context.CancelFunc
}

// appOpts are what a caller may ask of newApp.
type appOpts struct {
	// migrate applies pending migrations first (serve --migrate, dev mode).
	migrate bool
	// dev is dev mode: the console's cookie drops Secure, for http://127.0.0.1.
	dev bool
}

// services are the domain services built from the pool, shared by the API and the workers.
type services struct {
	keys     *auth.Service
	tenants  *tenants.Service
	webhooks *webhooks.Service
	tokens   *tokens.Service
	usage    *tenantusage.Service
}

// newApp connects, migrates when asked, refuses a schema it was not built for, and wires
// everything. Nothing runs yet.
func newApp(ctx context.Context, cfg config, logger *slog.Logger, opts appOpts) (_ *app, err error) {
	logger.Info("starting pnonboard", "config", cfg)
	a := &app{cfg: cfg, logger: logger, stopUI: func() {}}
	defer func() {
		if err != nil {
			a.close()
		}
	}()

	// --- Postgres and migrations
	if a.pool, err = postgres.NewPool(ctx, cfg.DatabaseURL, &postgres.PoolOpts{MaxConns: int32(cfg.DBMaxConns), Logger: logger}); err != nil {
		return nil, err
	}
	if a.migrator, err = postgres.NewMigrator(a.pool, pnonboard.Migrations(), logger); err != nil {
		return nil, err
	}
	if opts.migrate {
		if _, err := a.migrator.Up(ctx); err != nil {
			return nil, err
		}
	}
	// Refuse to run on a schema this binary was not built for: River and the stores would fail
	// in confusing ways. Migrations run before serve (server migrate up), or with --migrate.
	if current, target, err := a.migrator.Versions(ctx); err != nil {
		return nil, err
	} else if current != target {
		return nil, fmt.Errorf("the database is at migration %d and this binary needs %d: run `server migrate up` first, or serve with --migrate", current, target)
	}

	// --- Secrets and profiles
	keyring, err := secrets.NewKeyring(cfg.EncryptionKey, cfg.PreviousEncryptionKeys...)
	if err != nil {
		return nil, fmt.Errorf("config: PNONBOARD_ENCRYPTION_KEY: %w", err)
	}
	// A wrong key must stop start-up, not fail requests one by one later.
	keysetSecret := func(ctx context.Context) (secrets.Sample, bool, error) {
		what, sealed, aad, ok, err := tenants.LatestSealedSecret(ctx, a.pool)
		return secrets.Sample{What: what, Sealed: sealed, AAD: aad}, ok, err
	}
	webhookSecret := func(ctx context.Context) (secrets.Sample, bool, error) {
		return webhooks.LatestSealedSecret(ctx, a.pool)
	}
	accessToken := func(ctx context.Context) (secrets.Sample, bool, error) {
		return tokens.LatestSealedToken(ctx, a.pool)
	}
	if err := secrets.CheckKeyring(ctx, keyring, keysetSecret, webhookSecret, accessToken); err != nil {
		var wrong *secrets.KeyringError
		if errors.As(err, &wrong) {
			return nil, fmt.Errorf("config: %w", err)
		}
		return nil, fmt.Errorf("check the encryption key: %w", err)
	}
	profiles := provisioner.DefaultProfiles()
	if cfg.ProfilesFile != "" {
		if profiles, err = provisioner.LoadProfiles(cfg.ProfilesFile); err != nil {
			return nil, fmt.Errorf("config: PNONBOARD_PROFILES_FILE: %w", err)
		}
	}

	// --- Access Manager tokens: the data plane, outside the Admin API's rate budget
	tokenOpts := tokens.ServiceOpts{
		Pool: a.pool, Keyring: keyring, Logger: logger, Environments: tokenEnvironments(profiles),
		Client: accessmanager.New(cfg.PubNubOrigin, tokens.NewHTTPClient()),
	}

	budget, err := newBudget(a.pool, cfg)
	if err != nil {
		return nil, err
	}
	a.metrics = metrics.New(metrics.Sources{DB: a.pool, Budget: budget, Drift: driftSource{a.pool}}, logger)
	// One Admin API client, through the shared budget: the workers' and GET /readyz?verbose=1's
	// (server doctor's checks).
	client := newUpstream(budget, cfg, a.metrics, logger)
	readyChecks := newReadyChecks(cfg, client, profiles)

	// --- River. Every replica registers every worker (an API replica still inserts, and
	// River checks kinds on insert); only worker replicas configure queues and work jobs.
	workers := river.NewWorkers()
	var upstream provisioner.Upstream = unconfiguredUpstream{}
	if cfg.Role.runsWorkers() {
		upstream = client
	}
	river.AddWorker(workers, provisioner.NewWorker(provisioner.WorkerOpts{
		Pool: a.pool, Upstream: upstream, Keyring: keyring, Profiles: profiles, Logger: logger,
		Announcer: webhooks.Announcer{}, Tokens: tokens.Revoker{},
		// A day's sweep confirms every tenant; holdings unconfirmed for longer are read back.
		VerifyAfter: cfg.DriftInterval + time.Hour,
	}))
	river.AddWorker(workers, provisioner.NewDriftWorker(provisioner.DriftWorkerOpts{
		Pool: a.pool, Upstream: upstream, Logger: logger, Interval: cfg.DriftInterval,
	}))
	river.AddWorker(workers, webhooks.NewDeliveryWorker(webhooks.DeliveryWorkerOpts{
		Pool: a.pool, Keyring: keyring, Policy: cfg.Webhooks, Logger: logger,
		OnAttemptFunc: func(o webhooks.Outcome) { a.metrics.WebhookAttempt(string(o)) },
	}))
	river.AddWorker(workers, &webhooks.PruneWorker{Pool: a.pool})
	river.AddWorker(workers, &provisioner.SweepWorker{Pool: a.pool})
	river.AddWorker(workers, tokens.NewRevokeTenantWorker(tokenOpts))
	river.AddWorker(workers, tokens.NewMaintainWorker(tokenOpts))
	// The usage sync calls upstream through the same budgeted client, as background work (nil on
	// API-only replicas, which never work its queue).
	usageUpstream, _ := upstream.(tenantusage.Upstream)
	river.AddWorker(workers, tenantusage.NewSyncWorker(tenantusage.NewSyncer(tenantusage.SyncerOpts{
		Pool: a.pool, Upstream: usageUpstream, Metrics: cfg.UsageMetrics, ByEnvironment: cfg.UsageByEnvironment, Logger: logger,
		OnCallFunc: a.metrics.UsageCall,
		OnProgressFunc: func(p tenantusage.Progress) {
			a.metrics.UsageProgress(p.Day, map[string]int{"synced": p.Synced, "up_to_date": p.UpToDate, "waiting": p.Waiting, "failed": p.Failed}, p.LagDays, p.Done)
		},
	}), nil))
	river.AddWorker(workers, &tenantusage.PruneWorker{Pool: a.pool, Logger: logger})
	riverCfg := &river.Config{
		Logger:  logger,
		Workers: workers,
		// Workers bound their own attempts (provisioning hands itself back after 2 min,
		// webhooks 30 s). A replica that dies mid-job is noticed by its lease (internal/rescue)
		// within seconds; River's own rescuer stays as the backstop for anything else.
		JobTimeout:           5 * time.Minute,
		RescueStuckJobsAfter: 10 * time.Minute,
		// A signup's job is fetched within 25 ms of its insert notification, not River's
		// default 100 ms: a customer is waiting for it.
		FetchCooldown: 25 * time.Millisecond,
	}
	if cfg.Role.runsWorkers() {
		hostname, _ := os.Hostname()
		a.clientID = rescue.NewClientID(hostname)
		riverCfg.ID = a.clientID
		riverCfg.Queues = map[string]river.QueueConfig{
			river.QueueDefault:     {MaxWorkers: cfg.Workers},
			webhooks.QueueWebhooks: {MaxWorkers: cfg.Workers},
		}
		riverCfg.PeriodicJobs = []*river.PeriodicJob{webhooks.PeriodicPrune(), provisioner.PeriodicSweep(),
			provisioner.PeriodicDriftSweep(cfg.DriftInterval),
			tokens.PeriodicMaintain()}
		riverCfg.Queues[tenantusage.QueueUsage] = river.QueueConfig{MaxWorkers: 2} // one sync pass, one prune
		riverCfg.PeriodicJobs = append(riverCfg.PeriodicJobs, tenantusage.PeriodicSync(cfg.UsageSyncInterval), tenantusage.PeriodicPrune())
	}
	if a.river, err = river.NewClient(riverpgxv5.New(a.pool), riverCfg); err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}

	// --- Domain services
	a.services = &services{
		keys: auth.NewService(a.pool, nil),
		tenants: tenants.NewService(tenants.ServiceOpts{
			DB: a.pool, Enqueuer: &provisioner.Enqueuer{Client: a.river}, Opener: keyring,
			Environments: profiles.Environments(), DefaultEnvironments: profiles.Defaults(),
		}),
		webhooks: webhooks.NewService(webhooks.ServiceOpts{
			DB: a.pool, River: a.river, Keyring: keyring, Policy: cfg.Webhooks, SecretOverlap: cfg.WebhookSecretOverlap,
		}),
	}

	tokenOpts.Tenants = a.services.tenants
	a.services.tokens = tokens.NewService(tokenOpts)
	a.services.usage = tenantusage.NewService(tenantusage.ServiceOpts{Pool: a.pool, Metrics: cfg.UsageMetrics, ByEnvironment: cfg.UsageByEnvironment})

	// --- HTTP
	jobUI, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(a.river, nil), Logger: logger, Prefix: "/riverui"})
	if err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	uiCtx, stopUI := context.WithCancel(context.WithoutCancel(ctx))
	a.stopUI = stopUI
	if err := jobUI.Start(uiCtx); err != nil {
		return nil, fmt.Errorf("river UI: %w", err)
	}
	a.watcher = tenants.NewWatcher(a.pool.Config().ConnConfig, logger)
	a.handler = api.NewServer(&api.ServerOpts{
		Watcher:       a.watcher,
		Metrics:       a.metrics.Handler(),
		MetricsPublic: cfg.MetricsPublic,
		OnRequestFunc: a.metrics.ObserveRequest,
		JobUI:         jobUI,
		JobUIPrefix:   "/riverui",
		Logger:        logger,
		WorkerOnly:    !cfg.Role.runsAPI(),
		Ready:         readiness(a.pool, a.migrator),
		ReadyChecks:   readyChecks,
		Keys:          a.services.keys,
		Tenants:       a.services.tenants,
		Webhooks:      a.services.webhooks,
		Tokens:        a.services.tokens,
		Usage:         a.services.usage,
		OpenAPI:       pnonboard.OpenAPI(),
		Console: console.New(&console.Opts{
			Logger: logger, Keys: a.services.keys, Tenants: a.services.tenants, Webhooks: a.services.webhooks,
			Tokens: a.services.tokens, Usage: a.services.usage, Dev: opts.dev,
		}),
	})
	return a, nil
}

// close releases what newApp made, in reverse.
func (a *app) close() {
	a.stopUI()
	if a.migrator != nil {
		a.migrator.Close()
	}
	if a.pool != nil {
		a.pool.Close()
	}
}

// runOpts tune run.
type runOpts struct {
	// hardStop makes the end of ctx a crash-like stop: connections are cut and running jobs
	// cancelled at once, no draining. The in-process soak test uses it.
	hardStop bool
}

// run serves handler on ln and works jobs until ctx ends, then shuts down in a fixed order:
// stop accepting HTTP and drain it, soft-stop River (running jobs finish, bounded), release
// the liveness lease. Whatever it mounts beside the API (dev mode's sandbox) is the caller's
// to stop after run returns, once no job can call it any more.
func (a *app) run(ctx context.Context, ln net.Listener, handler http.Handler, opts runOpts) error {
	cfg, logger := a.cfg, a.logger
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // above the longest Prefer: wait
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	// River and the lease get contexts the signal does not cancel: cancelling Start's context
	// is a hard stop, and we want the soft one, after HTTP has drained; the lease must outlive
	// the jobs it vouches for.
	leaseCtx, releaseLease := context.WithCancel(context.WithoutCancel(ctx))
	defer releaseLease()
	if cfg.Role.runsWorkers() {
		lease, err := rescue.Acquire(ctx, a.pool.Config().ConnConfig, a.clientID, logger)
		if err != nil {
			return err
		}
		defer func() { releaseLease(); <-lease.Done() }()
		reaper := rescue.NewReaper(rescue.ReaperOpts{Pool: a.pool, Self: a.clientID, Logger: logger,
			OnRescueFunc: func(kind string) { a.metrics.JobOutcome(kind, metrics.JobRescued) }})
		go reaper.Run(leaseCtx)

		events, cancelEvents := a.river.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed,
			river.EventKindJobCancelled, river.EventKindJobSnoozed)
		defer cancelEvents()
		go countJobOutcomes(events, a.metrics)
		if err := a.river.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start river: %w", err)
		}
	}
	if cfg.Role.runsAPI() {
		go a.watcher.Run(leaseCtx)
	}
	errCh := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errCh <- err
		}
	}()
	logger.Info("listening", "addr", ln.Addr().String(), "role", cfg.Role, "client_id", a.clientID)

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "cause", context.Cause(ctx))
	case runErr = <-errCh:
		logger.Error("http server failed", "err", runErr)
	}

	// --- Shutdown, in order, each step bounded
	if opts.hardStop {
		_ = srv.Close()
		if cfg.Role.runsWorkers() {
			hardCtx, cancelHard := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancelHard()
			_ = a.river.StopAndCancel(hardCtx)
		}
		logger.Warn("stopped hard")
		return runErr
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("http shutdown incomplete", "err", err)
		_ = srv.Close()
	}
	if cfg.Role.runsWorkers() {
		stopRiver(ctx, shutdownCtx, a.river, logger)
	}
	logger.Info("stopped")
	return runErr
}

// stopRiver soft-stops River (no new jobs; running ones finish), and cancels the running
// jobs if they outlast shutdownCtx: an interrupted job goes back to available with its
// attempt restored, and its persisted steps make it resume, not repeat.
func stopRiver(ctx, shutdownCtx context.Context, c *river.Client[pgx.Tx], logger *slog.Logger) {
	err := c.Stop(shutdownCtx)
	if err == nil {
		return
	}
	logger.Warn("river soft stop incomplete; cancelling running jobs", "err", err)
	hardCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.StopAndCancel(hardCtx); err != nil {
		logger.Error("river hard stop incomplete", "err", err)
	}
}

// budgetName keys the shared rate budget of the PubNub account.
const budgetName = "pubnub-admin"

// newBudget is that budget, sized by cfg (serve and server doctor take from the same one).
func newBudget(pool *pgxpool.Pool, cfg config) (*provisioner.Budget, error) {
	return provisioner.NewBudget(pool, provisioner.BudgetOpts{Name: budgetName, PerMinute: cfg.PubNubRatePerMinute,
		Margin: cfg.PubNubRateMargin, BackgroundShare: cfg.BackgroundShare})
}

// newUpstream builds the PubNub client whose every request goes through the shared rate
// budget, and is counted in m once it reaches upstream (m nil: server doctor, which keeps
// no metrics).
func newUpstream(budget *provisioner.Budget, cfg config, m *metrics.Metrics, logger *slog.Logger) *pubnub.Client {
	opts := provisioner.ClientOpts{
		Budget: budget, BaseURL: cfg.PubNubURL, APIKey: cfg.PubNubAPIKey, Version: cfg.PubNubVersion, Timeout: cfg.PubNubTimeout,
		OnRateLimitedFunc: func(wait time.Duration) {
			if m != nil {
				m.RateLimited()
			}
			logger.Warn("PubNub answered 429; rate budget blocked", "wait", wait)
		},
	}
	if m != nil {
		opts.Base = m.UpstreamTransport(http.DefaultTransport.(*http.Transport).Clone())
	}
	return provisioner.NewClient(opts)
}

// countJobOutcomes turns River's job events into metrics until the subscription closes.
func countJobOutcomes(events <-chan *river.Event, m *metrics.Metrics) {
	for ev := range events {
		var outcome metrics.JobOutcome
		switch {
		case ev.Kind == river.EventKindJobFailed && ev.Job.State == rivertype.JobStateDiscarded:
			outcome = metrics.JobDiscarded
		case ev.Kind == river.EventKindJobFailed:
			outcome = metrics.JobFailed
		case ev.Kind == river.EventKindJobCompleted:
			outcome = metrics.JobCompleted
		case ev.Kind == river.EventKindJobCancelled:
			outcome = metrics.JobCancelled
		case ev.Kind == river.EventKindJobSnoozed:
			outcome = metrics.JobSnoozed
		default:
			continue
		}
		m.JobOutcome(ev.Job.Kind, outcome)
	}
}

// driftSource feeds the drift gauges.
type driftSource struct{ pool *pgxpool.Pool }

func (d driftSource) CountDrift(ctx context.Context) (map[tenants.DriftKind]int, error) {
	return tenants.CountDrift(ctx, d.pool)
}

func (d driftSource) LastSweep(ctx context.Context) (time.Time, bool, error) {
	run, ok, err := provisioner.LastDriftRun(ctx, d.pool)
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	return *run.FinishedAt, true, nil
}

// unconfiguredUpstream stands in for PubNub on replicas that never call it (PNONBOARD_ROLE=api):
// their worker is registered only so River accepts the job kind on insert.
type unconfiguredUpstream struct{ provisioner.Upstream }

// readiness is /readyz's check: the database answers and holds exactly the migrations this
// binary expects (a replica of an older or newer release is not ready).
func readiness(pool *pgxpool.Pool, migrator *postgres.Migrator) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if err := pool.Ping(ctx); err != nil {
			return &api.NotReadyError{Reason: "database unreachable"}
		}
		current, target, err := migrator.Versions(ctx)
		if err != nil {
			return &api.NotReadyError{Reason: "cannot read migration version"}
		}
		if current != target {
			return &api.NotReadyError{Reason: fmt.Sprintf("database at migration %d, this binary expects %d", current, target)}
		}
		return nil
	}
}

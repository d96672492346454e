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
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"riverqueue.com/riverui"

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/api"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/metrics"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/provisioner"
	"github.com/pnonboard/pnonboard/internal/pubnub"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
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
	return serve(ctx, cfg, logger, serveOpts{migrate: *migrate})
}

// serveOpts are what dev mode adds to a plain serve.
type serveOpts struct {
	migrate bool
	// mount adds handlers beside the API (dev mode's sandbox), at the root router.
	mount func(mux *http.ServeMux)
	// listener, when set, is used instead of listening on cfg.Addr.
	listener net.Listener
	// beforeServe runs after migrations, before the listener opens (dev mode's key).
	beforeServe func(ctx context.Context, svc *services) error
	// onListening runs once the server accepts connections (dev mode's banner).
	onListening func(addr string)
	// hardStop makes the end of ctx a crash-like stop: connections are cut and running jobs
	// cancelled at once, no draining. The soak test uses it to kill a replica mid-run.
	hardStop bool
}

// services are the domain services built from the pool, shared by the API and the workers.
type services struct {
	keys     *auth.Service
	tenants  *tenants.Service
	webhooks *webhooks.Service
}

// serve wires and runs the service until ctx ends, then shuts it down in a fixed order: stop
// accepting HTTP and drain it, soft-stop River (running jobs finish, bounded), close the pool.
func serve(ctx context.Context, cfg config, logger *slog.Logger, opts serveOpts) error {
	logger.Info("starting pnonboard", "config", cfg)

	// --- Postgres
	pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, &postgres.PoolOpts{MaxConns: int32(cfg.DBMaxConns), Logger: logger})
	if err != nil {
		return err
	}
	defer pool.Close()

	// --- Migrations
	migrator, err := postgres.NewMigrator(pool, pnonboard.Migrations(), logger)
	if err != nil {
		return err
	}
	defer migrator.Close()
	if opts.migrate {
		if _, err := migrator.Up(ctx); err != nil {
			return err
		}
	}
	// Refuse to run on a schema this binary was not built for: River and the stores would fail
	// in confusing ways. Migrations run before serve (server migrate up), or with --migrate.
	if current, target, err := migrator.Versions(ctx); err != nil {
		return err
	} else if current != target {
		return fmt.Errorf("the database is at migration %d and this binary needs %d: run `server migrate up` first, or serve with --migrate", current, target)
	}

	// --- Secrets and profiles
	keyring, err := secrets.NewKeyring(cfg.EncryptionKey, cfg.PreviousEncryptionKeys...)
	if err != nil {
		return fmt.Errorf("config: PNONBOARD_ENCRYPTION_KEY: %w", err)
	}
	profiles := provisioner.DefaultProfiles()
	if cfg.ProfilesFile != "" {
		if profiles, err = provisioner.LoadProfiles(cfg.ProfilesFile); err != nil {
			return fmt.Errorf("config: PNONBOARD_PROFILES_FILE: %w", err)
		}
	}

	// --- Metrics
	m := metrics.New(pool, budgetName, logger)

	// --- River. Every replica registers every worker (an API replica still inserts, and
	// River checks kinds on insert); only worker replicas configure queues and work jobs.
	workers := river.NewWorkers()
	var upstream provisioner.Upstream = unconfiguredUpstream{}
	if cfg.Role.runsWorkers() {
		if upstream, err = newUpstream(pool, cfg, m, logger); err != nil {
			return err
		}
	}
	river.AddWorker(workers, provisioner.NewWorker(provisioner.WorkerOpts{
		Pool: pool, Upstream: upstream, Keyring: keyring, Profiles: profiles, Logger: logger,
		Announcer: webhooks.Announcer{},
	}))
	river.AddWorker(workers, webhooks.NewDeliveryWorker(webhooks.DeliveryWorkerOpts{
		Pool: pool, Keyring: keyring, Policy: cfg.Webhooks, Logger: logger,
		OnAttemptFunc: func(o webhooks.Outcome) { m.WebhookAttempt(string(o)) },
	}))
	river.AddWorker(workers, &webhooks.PruneWorker{Pool: pool})
	river.AddWorker(workers, &provisioner.SweepWorker{Pool: pool})
	riverCfg := &river.Config{
		Logger:  logger,
		Workers: workers,
		// Workers bound their own attempts (provisioning 5 min, webhooks 30 s); a job left
		// running by a crashed replica is rescued soon after, not after River's default hour.
		JobTimeout:           5 * time.Minute,
		RescueStuckJobsAfter: 10 * time.Minute,
	}
	if cfg.Role.runsWorkers() {
		riverCfg.Queues = map[string]river.QueueConfig{
			river.QueueDefault:     {MaxWorkers: cfg.Workers},
			webhooks.QueueWebhooks: {MaxWorkers: cfg.Workers},
		}
		riverCfg.PeriodicJobs = []*river.PeriodicJob{webhooks.PeriodicPrune(), provisioner.PeriodicSweep()}
	}
	riverClient, err := river.NewClient(riverpgxv5.New(pool), riverCfg)
	if err != nil {
		return fmt.Errorf("create river client: %w", err)
	}

	// --- Domain services
	environments := make([]tenants.Environment, len(profiles))
	for i, p := range profiles {
		environments[i] = tenants.Environment{Name: p.Name, KeysetType: string(p.KeysetType)}
	}
	defaults := profiles.Names()
	defaults = defaults[:min(len(defaults), tenants.MaxEnvironments)]
	svc := &services{
		keys: auth.NewService(pool, nil),
		tenants: tenants.NewService(tenants.Options{
			Pool: pool, Enqueuer: &provisioner.Enqueuer{Client: riverClient}, Opener: keyring,
			Environments: environments, DefaultEnvironments: defaults,
		}),
		webhooks: webhooks.NewService(webhooks.Options{
			Pool: pool, River: riverClient, Keyring: keyring, Policy: cfg.Webhooks, SecretOverlap: cfg.WebhookSecretOverlap,
		}),
	}
	if opts.beforeServe != nil {
		if err := opts.beforeServe(ctx, svc); err != nil {
			return err
		}
	}

	// --- HTTP
	jobUI, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(riverClient, nil), Logger: logger, Prefix: "/riverui"})
	if err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	uiCtx, stopUI := context.WithCancel(context.WithoutCancel(ctx))
	defer stopUI()
	if err := jobUI.Start(uiCtx); err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	handler := api.NewServer(&api.Options{
		Metrics:       m.Handler(),
		MetricsPublic: cfg.MetricsPublic,
		OnRequestFunc: m.ObserveRequest,
		JobUI:         jobUI,
		JobUIPrefix:   "/riverui",
		Logger:        logger,
		WorkerOnly:    !cfg.Role.runsAPI(),
		Ready:         readiness(pool, migrator),
		Keys:          svc.keys,
		Tenants:       svc.tenants,
		Webhooks:      svc.webhooks,
		OpenAPI:       pnonboard.OpenAPI(),
	})
	mux := http.NewServeMux()
	mux.Handle("/", handler)
	if opts.mount != nil {
		opts.mount(mux)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // above the longest Prefer: wait
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln := opts.listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
		}
	}

	// --- Run
	// River gets a context the signal does not cancel: cancelling Start's context is a hard
	// stop, and we want the soft one, after HTTP has drained.
	if cfg.Role.runsWorkers() {
		events, cancelEvents := riverClient.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed,
			river.EventKindJobCancelled, river.EventKindJobSnoozed)
		defer cancelEvents()
		go countJobOutcomes(events, m)
		if err := riverClient.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start river: %w", err)
		}
	}
	errCh := make(chan error, 1)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errCh <- err
		}
	}()
	logger.Info("listening", "addr", ln.Addr().String(), "role", cfg.Role)
	if opts.onListening != nil {
		opts.onListening(ln.Addr().String())
	}

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
			_ = riverClient.StopAndCancel(hardCtx)
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
		stopRiver(ctx, shutdownCtx, riverClient, logger)
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

// newUpstream builds the PubNub client whose every request goes through the shared rate
// budget, and is counted in the metrics once it reaches upstream.
func newUpstream(pool *pgxpool.Pool, cfg config, m *metrics.Metrics, logger *slog.Logger) (*pubnub.Client, error) {
	budget, err := provisioner.NewBudget(pool, provisioner.BudgetOpts{Name: budgetName, PerMinute: cfg.PubNubRatePerMinute})
	if err != nil {
		return nil, err
	}
	return provisioner.NewClient(provisioner.ClientOpts{
		Budget: budget, BaseURL: cfg.PubNubURL, APIKey: cfg.PubNubAPIKey, Version: cfg.PubNubVersion, Timeout: cfg.PubNubTimeout,
		Base: m.UpstreamTransport(http.DefaultTransport.(*http.Transport).Clone()),
		OnRateLimitedFunc: func(wait time.Duration) {
			m.RateLimited()
			logger.Warn("PubNub answered 429; rate budget blocked", "wait", wait)
		},
	}), nil
}

// countJobOutcomes turns River's job events into metrics until the subscription closes.
func countJobOutcomes(events <-chan *river.Event, m *metrics.Metrics) {
	for ev := range events {
		outcome := string(ev.Kind)
		switch {
		case ev.Kind == river.EventKindJobFailed && ev.Job.State == rivertype.JobStateDiscarded:
			outcome = "discarded"
		case ev.Kind == river.EventKindJobFailed:
			outcome = "failed"
		case ev.Kind == river.EventKindJobCompleted:
			outcome = "completed"
		case ev.Kind == river.EventKindJobCancelled:
			outcome = "cancelled"
		case ev.Kind == river.EventKindJobSnoozed:
			outcome = "snoozed"
		}
		m.JobOutcome(ev.Job.Kind, outcome)
	}
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

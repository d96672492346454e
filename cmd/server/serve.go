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

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/api"
	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/postgres"
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
}

// services are the domain services built from the pool, shared by the API and the workers.
type services struct {
	keys *auth.Service
}

// serve wires and runs the service until ctx ends, then shuts it down in a fixed order: stop
// accepting HTTP and drain it, soft-stop River (running jobs finish, bounded), close the pool.
func serve(ctx context.Context, cfg config, logger *slog.Logger, opts serveOpts) error {
	logger.Info("starting pnonboard", "config", cfg)

	// --- Postgres
	pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, &postgres.PoolOpts{Logger: logger})
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

	// --- Domain services
	svc := &services{
		keys: auth.NewService(pool, nil),
	}
	if opts.beforeServe != nil {
		if err := opts.beforeServe(ctx, svc); err != nil {
			return err
		}
	}

	// --- River
	riverClient, err := newRiverClient(pool, cfg, logger)
	if err != nil {
		return err
	}

	// --- HTTP
	handler := api.NewServer(&api.Options{
		Logger:  logger,
		Ready:   readiness(pool, migrator),
		Keys:    svc.keys,
		OpenAPI: pnonboard.OpenAPI(),
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
	// River gets a context that the signal does not cancel: cancelling Start's context is a
	// hard stop, and we want the soft one, after HTTP has drained.
	if cfg.Role.runsWorkers() && riverClient.hasWorkers {
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
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("http shutdown incomplete", "err", err)
		_ = srv.Close()
	}
	if cfg.Role.runsWorkers() && riverClient.hasWorkers {
		if err := riverClient.Stop(shutdownCtx); err != nil {
			logger.Warn("river soft stop incomplete; cancelling running jobs", "err", err)
			hardCtx, cancelHard := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancelHard()
			if err := riverClient.StopAndCancel(hardCtx); err != nil {
				logger.Error("river hard stop incomplete", "err", err)
			}
		}
	}
	logger.Info("stopped")
	return runErr
}

// riverClient is River's client plus whether any worker is registered: River refuses to start
// working without one, and an API-only replica inserts jobs without working them.
type riverClient struct {
	*river.Client[pgx.Tx]
	hasWorkers bool
}

func newRiverClient(pool *pgxpool.Pool, cfg config, logger *slog.Logger) (*riverClient, error) {
	workers := river.NewWorkers()
	hasWorkers := false // the provisioning workers register here
	rcfg := &river.Config{
		Logger:  logger,
		Workers: workers,
	}
	if cfg.Role.runsWorkers() && hasWorkers {
		rcfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 20}}
	}
	c, err := river.NewClient(riverpgxv5.New(pool), rcfg)
	if err != nil {
		return nil, fmt.Errorf("create river client: %w", err)
	}
	return &riverClient{Client: c, hasWorkers: hasWorkers}, nil
}

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

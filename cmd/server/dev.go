package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/pglocal"
	"github.com/pnonboard/pnonboard/internal/secrets"
)

// runDev is `server dev`: a local Postgres under the data dir (started, or reused from the last
// run), migrations, and the service with every role, logging as text. Ctrl-C drains the
// service and then stops that Postgres.
func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to serve on")
	dataDir := fs.String("data-dir", ".devdata", "directory for the dev database and secrets (kept between runs)")
	if help, err := parseFlags(fs, args, stderr); help || err != nil {
		return err
	}
	cfg, err := parseConfig(devEnv(getenv), modeDev)
	if err != nil {
		return err
	}
	cfg.Addr = *addr
	cfg.Role = roleAll
	// Dev receivers live on this machine: allow http:// and loopback webhook URLs.
	cfg.Webhooks.AllowHTTP, cfg.Webhooks.AllowPrivate = true, true
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)

	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	// 0711: the postgres OS user (when we are root) must traverse it; secrets inside are 0600.
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}

	// The address first: a busy port fails at once, before a Postgres is started for nothing.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return devListenError(cfg.Addr, err)
	}
	defer ln.Close()
	listenAddr := ln.Addr().String()

	// --- Postgres under the data dir
	pgDir, err := devPostgresDir(dir, logger)
	if err != nil {
		return err
	}
	pg, err := pglocal.Start(ctx, &pglocal.Opts{DataDir: pgDir, Durable: true})
	if err != nil {
		return fmt.Errorf("dev postgres: %w", err)
	}
	defer func() {
		if err := pg.Stop(context.WithoutCancel(ctx)); err != nil {
			logger.Error("stop dev postgres", "err", err)
		}
		logger.Info("dev postgres stopped")
	}()
	logger.Warn("dev mode: webhooks may go to http:// and private addresses (never do this in production)")
	logger.Info("dev postgres running", "data_dir", pg.DataDir, "reused", pg.Reused, "log", pg.LogFile)
	if cfg.DatabaseURL, err = devDatabase(ctx, pg.URL); err != nil {
		return err
	}
	// For `server apikey` and psql beside dev mode: DATABASE_URL=$(cat .devdata/database-url).
	if err := os.WriteFile(filepath.Join(dir, "database-url"), []byte(cfg.DatabaseURL+"\n"), 0o600); err != nil {
		return fmt.Errorf("dev database url: %w", err)
	}

	if cfg.EncryptionKey == nil {
		if cfg.EncryptionKey, err = devEncryptionKey(dir); err != nil {
			return err
		}
	}

	// --- The PubNub sandbox. People reach it under /sandbox on the API's address; the workers
	// call it on a loopback listener of its own, which stays up until the workers have
	// stopped, so a shutdown never shows them a sandbox that has gone away.
	sbCfg, err := parseSandboxConfig(getenv)
	if err != nil {
		return err
	}
	// Its state is written through to the data dir before every answer, so tenants made in
	// one run find their PubNub resources in the next, whatever ended the last one (kill -9,
	// a closed terminal), and no ID is ever handed out twice.
	if sbCfg.StateFile == "" {
		sbCfg.StateFile = filepath.Join(dir, "sandbox.json")
	}
	sb, err := sbCfg.open()
	if err != nil {
		return fmt.Errorf("dev sandbox: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sandbox-key"), []byte(sb.APIKey()+"\n"), 0o600); err != nil {
		return fmt.Errorf("dev sandbox key: %w", err)
	}
	sbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("dev sandbox: %w", err)
	}
	sbSrv := &http.Server{Handler: sb, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go func() { _ = sbSrv.Serve(sbLn) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = sbSrv.Shutdown(ctx) // after the workers: run has returned
	}()
	cfg.PubNubURL = "http://" + sbLn.Addr().String() + "/v2"
	cfg.PubNubOrigin = "http://" + sbLn.Addr().String() // the same sandbox serves Access Manager's /v3/pam
	cfg.PubNubAPIKey = sb.APIKey()
	if getenv("PNONBOARD_PUBNUB_RATE_PER_MINUTE") == "" && sbCfg.RatePerMinute > 0 {
		cfg.PubNubRatePerMinute = sbCfg.RatePerMinute // spend exactly what the sandbox allows
	}

	a, err := newApp(ctx, cfg, logger, appOpts{migrate: true, dev: true})
	if err != nil {
		return err
	}
	defer a.close()
	devKey, err := ensureDevKey(ctx, a.services.keys, dir)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", a.handler)
	mux.Handle("/sandbox/", http.StripPrefix("/sandbox", sb))
	printBanner(stdout, listenAddr, devKey, dir, cfg.DatabaseURL, sb.APIKey())
	return a.run(ctx, ln, mux, runOpts{})
}

// devListenError explains a failed listen; a busy address (another make run, most often)
// says how to choose another one.
func devListenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("listen on %s: the address is already in use (is another make run or server going?): "+
			"stop that, or choose another address: make run ADDR=127.0.0.1:8081 (server dev --addr 127.0.0.1:8081)", addr)
	}
	return fmt.Errorf("listen on %s: %w (choose another address with make run ADDR=host:port)", addr, err)
}

// printBanner tells a newcomer where everything is.
func printBanner(stdout io.Writer, addr, devKey, dir, databaseURL, sandboxKey string) {
	fmt.Fprintf(stdout, `
pnonboard dev mode is up
  API        http://%[1]s
  console    http://%[1]s/console/  (sign in with the API key below)
  API docs   http://%[1]s/docs
  API key    %[2]s
             (every scope; also in %[3]s/api-key)
  sandbox    http://%[1]s/sandbox/v2  (PubNub Admin API stand-in; state in %[3]s/sandbox.json)
             Authorization: %[5]s  (also in %[3]s/sandbox-key)
             also Access Manager's data plane (/v3/pam), where pnonboard grants tokens
  job UI     http://%[1]s/riverui/  (basic auth; the password is the API key)
  metrics    http://%[1]s/metrics   (with the API key)
  database   %[4]s
  data dir   %[3]s

Try it:
  curl -H "Authorization: Bearer $(cat %[3]s/api-key)" -H 'Content-Type: application/json' \
       -H 'Prefer: wait=30' -d '{"externalId": "acme", "name": "Acme Corp"}' http://%[1]s/v1/tenants

Press Ctrl-C to stop.

`, addr, devKey, dir, databaseURL, sandboxKey)
}

// devPostgresDir is where dev mode keeps its cluster: DIR/postgres. When we are root and the
// postgres OS user cannot reach DIR (a checkout under /root), the cluster lives under
// /var/lib/pnonboard instead, and DIR/postgres is a symlink to it, so make run still works on
// the first try and the data still sits "under" the data dir for whoever looks.
func devPostgresDir(dir string, logger *slog.Logger) (string, error) {
	link := filepath.Join(dir, "postgres")
	if target, err := os.Readlink(link); err == nil {
		return target, nil
	}
	if pglocal.Reachable(link) == nil {
		return link, nil
	}
	sum := sha256.Sum256([]byte(dir))
	target := filepath.Join("/var/lib/pnonboard", "dev-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return "", fmt.Errorf("dev postgres: %s is unreachable for the postgres user, and %w", dir, err)
	}
	if err := os.Symlink(target, link); err != nil {
		return "", fmt.Errorf("dev postgres: %w", err)
	}
	logger.Info("dev postgres: the data dir is not reachable by the postgres OS user; keeping the cluster elsewhere",
		"cluster", target, "symlink", link)
	return target, nil
}

// devEncryptionKey returns the dev data dir's encryption key, made on first use (0600).
func devEncryptionKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "encryption-key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b = []byte(secrets.NewKey() + "\n")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("dev encryption key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("dev encryption key: %w", err)
	}
	key, err := secrets.ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("dev encryption key %s: %w", path, err)
	}
	return key, nil
}

// devEnv defaults dev mode to human-readable logs unless the caller chose otherwise.
func devEnv(getenv func(string) string) func(string) string {
	return func(k string) string {
		if v := getenv(k); v != "" || k != "PNONBOARD_LOG_FORMAT" {
			return v
		}
		return "text"
	}
}

// devDatabase creates (once) the "pnonboard" database on the dev server and returns its URL.
func devDatabase(ctx context.Context, serverURL string) (string, error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("dev postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'pnonboard')").Scan(&exists); err != nil {
		return "", fmt.Errorf("dev postgres: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE pnonboard"); err != nil {
			return "", fmt.Errorf("dev postgres: create database: %w", err)
		}
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("dev postgres: %w", err)
	}
	u.Path = "/pnonboard"
	return u.String(), nil
}

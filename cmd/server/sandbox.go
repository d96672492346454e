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
	"strconv"
	"time"

	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
)

// sandboxConfig is the sandbox's own configuration (DESIGN.md §9).
type sandboxConfig struct {
	APIKey        string
	RatePerMinute int
	Latency       time.Duration
	Faults        sandbox.FaultRates
	Seed          int64
}

func parseSandboxConfig(getenv func(string) string) (sandboxConfig, error) {
	p := envParser{getenv: getenv}
	cfg := sandboxConfig{
		APIKey:        p.str("PNONBOARD_SANDBOX_API_KEY", ""),
		RatePerMinute: p.intRange("PNONBOARD_SANDBOX_RATE_PER_MINUTE", sandbox.DefaultRatePerMinute, -1, 1_000_000),
	}
	if raw := getenv("PNONBOARD_SANDBOX_LATENCY"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			p.fail("PNONBOARD_SANDBOX_LATENCY", fmt.Sprintf("must be a duration like 50ms (got %q)", raw))
		}
		cfg.Latency = d
	}
	if raw := getenv("PNONBOARD_SANDBOX_FAULTS"); raw != "" {
		f, err := sandbox.ParseFaults(raw)
		if err != nil {
			p.fail("PNONBOARD_SANDBOX_FAULTS", err.Error())
		}
		cfg.Faults = f
	}
	if raw := getenv("PNONBOARD_SANDBOX_SEED"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			p.fail("PNONBOARD_SANDBOX_SEED", fmt.Sprintf("must be a whole number (got %q)", raw))
		}
		cfg.Seed = n
	}
	if cfg.RatePerMinute == 0 {
		p.fail("PNONBOARD_SANDBOX_RATE_PER_MINUTE", "must not be 0 (use -1 to turn the limit off)")
	}
	if err := p.err(); err != nil {
		return sandboxConfig{}, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

func (c sandboxConfig) options() *sandbox.Options {
	return &sandbox.Options{APIKey: c.APIKey, RatePerMinute: c.RatePerMinute, Latency: c.Latency, Faults: c.Faults, Seed: c.Seed}
}

// runSandbox serves the in-memory PubNub Admin API v2 at /v2/..., for tests and demos.
func runSandbox(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "address to serve on")
	if help, err := parseFlags(fs, args, stderr); help || err != nil {
		return err
	}
	cfg, err := parseSandboxConfig(getenv)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, "json", slog.LevelInfo)
	sb := sandbox.New(cfg.options())
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	if cfg.APIKey == "" {
		fmt.Fprintf(stdout, "sandbox API key (generated; set PNONBOARD_SANDBOX_API_KEY to choose one): %s\n", sb.APIKey())
	}
	logger.Info("PubNub sandbox listening", "url", "http://"+ln.Addr().String()+"/v2", "rate_per_minute", cfg.RatePerMinute,
		"latency", cfg.Latency, "faults", fmt.Sprintf("%+v", cfg.Faults))
	errCh := make(chan error, 1)
	go func() { errCh <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errCh:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx) // hung timeout faults end with their connections
	return nil
}

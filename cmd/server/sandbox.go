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

// sandboxConfig is the sandbox's own configuration, from the PNONBOARD_SANDBOX_* variables
// (listed in sandboxUsage).
type sandboxConfig struct {
	APIKey        string
	RatePerMinute int
	Latency       time.Duration
	Faults        sandbox.FaultRates
	Seed          int64
	// Permissions are PNONBOARD_SANDBOX_PERMISSIONS' rows; nil is full access.
	Permissions []sandbox.Permission
	// UsageShape is PNONBOARD_SANDBOX_USAGE_SHAPE (object or array).
	UsageShape sandbox.UsageShape
	// StateFile is PNONBOARD_SANDBOX_STATE_FILE: where a durable sandbox
	// keeps its state ("": in memory only). Used by open, not by options.
	StateFile string
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
	if raw := getenv("PNONBOARD_SANDBOX_PERMISSIONS"); raw != "" {
		perms, err := sandbox.ParsePermissions(raw)
		if err != nil {
			p.fail("PNONBOARD_SANDBOX_PERMISSIONS", err.Error())
		}
		cfg.Permissions = perms
	}
	if raw := getenv("PNONBOARD_SANDBOX_USAGE_SHAPE"); raw != "" {
		shape, err := sandbox.ParseUsageShape(raw)
		if err != nil {
			p.fail("PNONBOARD_SANDBOX_USAGE_SHAPE", err.Error())
		}
		cfg.UsageShape = shape
	}
	cfg.StateFile = p.str("PNONBOARD_SANDBOX_STATE_FILE", "")
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

// options are the sandbox options of c, without the state file (New with a
// state file panics on a bad file; use open for a durable sandbox).
func (c sandboxConfig) options() *sandbox.Opts {
	return &sandbox.Opts{
		APIKey: c.APIKey, RatePerMinute: c.RatePerMinute, Latency: c.Latency, Faults: c.Faults, Seed: c.Seed,
		Permissions: c.Permissions, UsageShape: c.UsageShape,
	}
}

// open returns the sandbox c describes, loading and then writing through to
// c.StateFile when it is set.
func (c sandboxConfig) open() (*sandbox.Sandbox, error) {
	opts := c.options()
	opts.StateFile = c.StateFile
	return sandbox.Open(opts)
}

const sandboxUsage = `usage: server sandbox [--addr ADDR] [--state FILE]

Serves a stand-in for the PubNub Admin API v2 at http://ADDR/v2/..., with its admin
routes (portal-side changes, prefill) at http://ADDR/_sandbox/..., and GET /healthz for
health checks (server health --addr ADDR; not part of PubNub's API).

environment:
  PNONBOARD_SANDBOX_API_KEY          the Authorization value accepted (default: generated, printed)
  PNONBOARD_SANDBOX_RATE_PER_MINUTE  requests per minute per key (default 120; -1 turns the limit off)
  PNONBOARD_SANDBOX_LATENCY          added to every request, e.g. 50ms
  PNONBOARD_SANDBOX_FAULTS           random faults, e.g. 5xx=0.1,lost=0.05,timeout=0.02,403=0.1,403@POST /keysets=0.5
  PNONBOARD_SANDBOX_SEED             seed of the fault randomness
  PNONBOARD_SANDBOX_PERMISSIONS      permission rows level:resource:access, e.g. account:app:rw,account:keyset:rw
                                     (default: full access; none: no rows)
  PNONBOARD_SANDBOX_USAGE_SHAPE      usage-metrics answer shape: object (default) or array
  PNONBOARD_SANDBOX_STATE_FILE       keep the state in FILE, written through on every change (--state wins)

flags:
  --addr ADDR    address to serve on (default 127.0.0.1:8090)
  --state FILE   keep the state in FILE (default $PNONBOARD_SANDBOX_STATE_FILE; none: in memory)
`

// runSandbox serves the PubNub Admin API v2 sandbox at /v2/..., for tests and demos; with a
// state file (--state or PNONBOARD_SANDBOX_STATE_FILE) it survives restarts and kill -9.
func runSandbox(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "address to serve on")
	state := fs.String("state", "", "keep the state in this file (default $PNONBOARD_SANDBOX_STATE_FILE; none: in memory)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), sandboxUsage) }
	if help, err := parseFlags(fs, args, stderr); help || err != nil {
		return err
	}
	cfg, err := parseSandboxConfig(getenv)
	if err != nil {
		return err
	}
	if *state != "" {
		cfg.StateFile = *state
	}
	logger := logging.New(stderr, "json", slog.LevelInfo)
	sb, err := cfg.open()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.Handle("/", sb)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	if cfg.APIKey == "" {
		fmt.Fprintf(stdout, "sandbox API key (generated; set PNONBOARD_SANDBOX_API_KEY to choose one): %s\n", sb.APIKey())
	}
	permissions := "full access"
	if cfg.Permissions != nil {
		permissions = fmt.Sprint(cfg.Permissions)
	}
	logger.Info("PubNub sandbox listening", "url", "http://"+ln.Addr().String()+"/v2", "rate_per_minute", cfg.RatePerMinute,
		"latency", cfg.Latency, "faults", cfg.Faults.String(), "permissions", permissions,
		"usage_shape", cfg.UsageShape.String(), "state_file", cfg.StateFile)
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

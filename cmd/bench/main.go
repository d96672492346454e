// Command bench measures pnonboard on this machine and prints the figures the README's
// Performance section reports: ingest throughput and latency against the raw-Postgres ceiling,
// the server's peak memory, the provisioning drain against a rate-limited sandbox, and token
// grants through pnonboard against the sandbox's Access Manager called directly. It
// starts everything it needs (a throwaway PostgreSQL, the server binary as real processes,
// the sandbox and a webhook receiver in-process, all on 127.0.0.1) and stops it all. The usage
// run times the monthly CSV of 10,000 tenants and counts the usage sync's calls.
//
//	go run ./cmd/bench [-server bin/server] [-c 32] [-t 10s] [-k 200] [-n 500] [-r 600] [-usage-tenants 10000] [-only ingest|drain|burst|latency|mixed|adoption|drift|grant|usage]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pnonboard/pnonboard/internal/pglocal"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %s\n", err)
		os.Exit(1)
	}
}

type options struct {
	server     string
	clients    int
	duration   time.Duration
	tenants    int
	burst      int
	ratePerMin int
	replicas   int
	only       string
	dbMaxConns int
	// usageTenants is how many tenants the usage run seeds.
	usageTenants int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.server, "server", "bin/server", "the pnonboard binary to measure (make build)")
	fs.IntVar(&o.clients, "c", 32, "ingest and grant: concurrent clients")
	fs.DurationVar(&o.duration, "t", 10*time.Second, "ingest and grant: how long each side runs")
	fs.IntVar(&o.tenants, "k", 200, "drain: tenants to provision")
	fs.IntVar(&o.burst, "n", 500, "burst: tenants signed up at once")
	fs.IntVar(&o.ratePerMin, "r", 600, "drain and burst: the sandbox's rate limit and the budget (requests per minute)")
	fs.IntVar(&o.replicas, "replicas", 2, "drain and burst: worker replicas")
	fs.IntVar(&o.dbMaxConns, "db-conns", 10, "pool size of the server and of the raw-Postgres ceiling")
	fs.IntVar(&o.usageTenants, "usage-tenants", 10_000, "usage: tenants seeded (and prefilled in the sandbox)")
	fs.StringVar(&o.only, "only", "", "run only one scenario: ingest, drain, burst, latency, mixed, adoption, drift, grant or usage")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if _, err := os.Stat(o.server); err != nil {
		return fmt.Errorf("%s: %w (run make build first)", o.server, err)
	}

	fmt.Fprintf(stdout, "pnonboard bench — %s\n", time.Now().UTC().Format(time.RFC3339))
	pg, err := pglocal.Start(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer pg.Stop(context.Background())
	env := &benchEnv{opts: o, pg: pg, stdout: stdout, stderr: stderr}
	defer env.stopAll()

	var errs []error
	for _, sc := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"ingest", env.ingest}, {"drain", env.drain}, {"burst", env.burst}, {"latency", env.latency}, {"mixed", env.mixed},
		{"adoption", env.adoption}, {"drift", env.drift}, {"grant", env.grant}, {"usage", env.usage},
	} {
		if o.only == "" || o.only == sc.name {
			if err := sc.run(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", sc.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

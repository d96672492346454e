package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/pnonboard/pnonboard"
	"github.com/pnonboard/pnonboard/internal/logging"
	"github.com/pnonboard/pnonboard/internal/postgres"
)

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: server migrate up|down|status") }
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	direction := "up"
	switch fs.NArg() {
	case 0:
	case 1:
		direction = fs.Arg(0)
	default:
		fs.Usage()
		return fmt.Errorf("migrate: one of up, down, status")
	}
	if direction != "up" && direction != "down" && direction != "status" {
		fs.Usage()
		return fmt.Errorf("migrate: unknown direction %q (want up, down or status)", direction)
	}
	cfg, err := parseConfig(getenv, modeMigrate)
	if err != nil {
		return err
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)

	pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := postgres.NewMigrator(pool, pnonboard.Migrations(), logger)
	if err != nil {
		return err
	}
	defer m.Close()

	switch direction {
	case "up":
		res, err := m.Up(ctx)
		for _, r := range res {
			fmt.Fprintln(stdout, r)
		}
		if err == nil && len(res) == 0 {
			fmt.Fprintln(stdout, "no pending migrations")
		}
		return err
	case "down":
		res, err := m.Down(ctx)
		if res != nil {
			fmt.Fprintln(stdout, res)
		}
		return err
	default:
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			name := s.Source.Path
			if name == "" {
				name = fmt.Sprintf("%05d (go)", s.Source.Version)
			}
			applied := ""
			if !s.AppliedAt.IsZero() {
				applied = s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(stdout, "%-8s %-40s %s\n", s.State, name, applied)
		}
		return nil
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `usage: server [command] [flags]

commands:
  serve                 run the API and the workers (default)
  migrate up|down|status
                        apply, roll back one, or list database migrations
  apikey create|list|revoke
                        manage API keys (create prints the key once, on stdout)
  sandbox [--addr ADDR]  the PubNub Admin API sandbox, standalone, at /v2/...
  dev [--addr ADDR] [--data-dir DIR]
                        everything for a newcomer in one process: a local Postgres under DIR,
                        migrations, the PubNub sandbox, workers, the API and a dev API key

configuration comes from the environment; see README.md.
`

// run is the whole program. It takes the OS as arguments so that tests drive it like a user:
// args as typed, a fake environment, and buffers for output. It returns when ctx is
// cancelled, on SIGINT, SIGTERM or SIGHUP (a closed terminal), or when the command ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	cmd, rest := "serve", args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "dev":
		return runDev(ctx, rest, getenv, stdout, stderr)
	case "apikey":
		return runAPIKey(ctx, rest, getenv, stdout, stderr)
	case "sandbox":
		return runSandbox(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// parseFlags parses a subcommand's flags; -h prints its usage and is not an error.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (help bool, err error) {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, err
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("%s: unexpected arguments %q", fs.Name(), fs.Args())
	}
	return false, nil
}

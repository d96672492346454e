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
  doctor                check the PubNub setup (key, version, permission rows, OEM access,
                        profiles, key expiry) with read-only calls; exit 1 when a check fails
  health [--addr ADDR]  probe a running server's /healthz; exit 0 when healthy (the image's HEALTHCHECK)
  sandbox [--addr ADDR] [--state FILE]
                        the PubNub Admin API sandbox, standalone, at /v2/...
  dev [--addr ADDR] [--data-dir DIR]
                        everything for a newcomer in one process: a local Postgres under DIR,
                        migrations, the PubNub sandbox, workers, the API and a dev API key

server COMMAND --help prints a command's usage. Configuration comes from the environment;
see README.md.
`

const serveUsage = `usage: server [serve] [--migrate]

Runs the API and the provisioning and webhook workers on PNONBOARD_ADDR (default :8080);
PNONBOARD_ROLE=api|worker runs one half. Needs DATABASE_URL, PNONBOARD_ENCRYPTION_KEY and,
where workers run, PNONBOARD_PUBNUB_API_KEY; README.md lists every variable. Refuses a
database whose migrations do not match the binary.

flags:
  --migrate   apply pending migrations before serving
`

const migrateUsage = `usage: server migrate [up|down|status]

  up       apply every pending migration (the default); replicas may run it at once
  down     roll back the newest migration
  status   list the migrations and when each was applied

environment: DATABASE_URL
`

const devUsage = `usage: server dev [--addr ADDR] [--data-dir DIR]

Everything in one process for trying pnonboard out: a PostgreSQL under DIR (created on the
first run, reused afterwards), migrations, the PubNub sandbox at /sandbox/v2 (its state kept in
DIR/sandbox.json), the workers, the API and a dev API key with every scope (DIR/api-key).
DIR/database-url is the database's URL, for server apikey and psql. The PNONBOARD_SANDBOX_*
variables (see server sandbox --help) shape the sandbox, e.g. PNONBOARD_SANDBOX_FAULTS.

flags:
  --addr ADDR       address to serve on (default 127.0.0.1:8080; make run ADDR=...)
  --data-dir DIR    directory for the dev database and secrets, kept between runs (default .devdata)
`

// command is one subcommand: the usage --help prints, and how it runs.
type command struct {
	usage string
	run   func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error
}

// commands are every subcommand, by name.
func commands() map[string]command {
	return map[string]command{
		"serve": {serveUsage, func(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
			return runServe(ctx, args, getenv, stderr)
		}},
		"migrate": {migrateUsage, runMigrate},
		"dev":     {devUsage, runDev},
		"apikey":  {apikeyUsage, runAPIKey},
		"sandbox": {sandboxUsage, runSandbox},
		"health":  {healthUsage, runHealth},
		"doctor":  {doctorUsage, runDoctor},
	}
}

// run is the whole program. It takes the OS as arguments so that tests drive it like a user:
// args as typed, a fake environment, and buffers for output. It returns when ctx is
// cancelled, on SIGINT, SIGTERM or SIGHUP (a closed terminal), or when the command ends.
// --help anywhere in a command's arguments prints its usage on stdout, and is not an error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	name, rest := "serve", args[1:]
	switch {
	case len(rest) > 0 && !strings.HasPrefix(rest[0], "-"):
		name, rest = rest[0], rest[1:]
	case len(rest) > 0 && isHelpFlag(rest[0]):
		fmt.Fprint(stdout, usage) // server --help: the commands, not serve's flags
		return nil
	}
	cmds := commands()
	if name == "help" {
		if c, ok := cmds[strings.Join(rest, " ")]; ok {
			fmt.Fprint(stdout, c.usage)
		} else {
			fmt.Fprint(stdout, usage)
		}
		return nil
	}
	c, ok := cmds[name]
	if !ok {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", name)
	}
	if helpRequested(rest) {
		fmt.Fprint(stdout, c.usage)
		return nil
	}
	return c.run(ctx, rest, getenv, stdout, stderr)
}

// isHelpFlag reports whether arg asks for help, in any spelling the flag package accepts.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--h", "--help":
		return true
	}
	return false
}

// helpRequested reports whether any argument before a "--" asks for help.
func helpRequested(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if isHelpFlag(a) {
			return true
		}
	}
	return false
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

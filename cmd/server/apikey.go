package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/postgres"
)

const apikeyUsage = `usage: server apikey create|list|revoke

  server apikey create --name NAME --scopes a,b[,c] [--expires-in DURATION]
                        prints only the new key on stdout (it is not shown again)
  server apikey list    lists keys (never the keys themselves)
  server apikey revoke ID
                        revokes a key at once (IDs as apikey list shows them)

environment: DATABASE_URL (in dev mode: DATABASE_URL=$(cat .devdata/database-url))
scopes: tenants:read tenants:write tenants:disable tokens:write credentials:read webhooks:read webhooks:write usage:read admin
DURATION: a whole number of minutes, hours or days (30m, 12h, 90d), from 1m to 365d (the default)
`

// runAPIKey manages API keys straight in the database: how the first key is made.
func runAPIKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, apikeyUsage)
		return errors.New("apikey: want create, list or revoke")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("apikey "+sub, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(stderr, apikeyUsage) }
	name := fs.String("name", "", "what the key is for (shown in listings)")
	scopes := fs.String("scopes", "", "comma-separated scopes")
	expiresIn := fs.String("expires-in", "365d", "lifetime, at most 365d")
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	cfg, err := parseConfig(getenv, modeMigrate)
	if err != nil {
		return err
	}
	pool, err := postgres.NewPool(ctx, cfg.DatabaseURL, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	keys := auth.NewService(pool, nil)

	switch sub {
	case "create":
		if fs.NArg() > 0 {
			return fmt.Errorf("apikey create: unexpected arguments %q", fs.Args())
		}
		parsed, err := auth.ParseScopes(splitList(*scopes))
		if err != nil {
			return fmt.Errorf("apikey create: --scopes: %w", err)
		}
		d, err := auth.ParseExpiry(*expiresIn)
		if err != nil {
			return fmt.Errorf("apikey create: --expires-in: %w", err)
		}
		_, plaintext, err := keys.Create(ctx, auth.CreateParams{Name: *name, Scopes: parsed, ExpiresIn: d, CreatedBy: auth.SystemActor("cli")})
		if err != nil {
			return fmt.Errorf("apikey create: %w", err)
		}
		fmt.Fprintln(stdout, plaintext)
		return nil
	case "list":
		list, err := keys.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tSCOPES\tEXPIRES\tSTATUS\tLAST USED")
		now := time.Now()
		for _, k := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, joinScopes(k.Scopes),
				k.ExpiresAt.Format(time.DateOnly), k.Status(now), formatTime(k.LastUsedAt))
		}
		return tw.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("apikey revoke: want exactly one key ID (see apikey list)")
		}
		k, err := keys.Revoke(ctx, fs.Arg(0))
		if err != nil {
			return fmt.Errorf("apikey revoke: %w", err)
		}
		fmt.Fprintf(stdout, "revoked %s (%s)\n", k.ID, k.Name)
		return nil
	}
	fmt.Fprint(stderr, apikeyUsage)
	return fmt.Errorf("apikey: unknown subcommand %q", sub)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func joinScopes(scopes []auth.Scope) string {
	s := make([]string, len(scopes))
	for i, sc := range scopes {
		s[i] = string(sc)
	}
	return strings.Join(s, ",")
}

func hasEveryScope(k *auth.Key) bool {
	for _, sc := range auth.AllScopes() {
		if !k.Has(sc) {
			return false
		}
	}
	return true
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Format(time.RFC3339)
}

// ensureDevKey returns dev mode's key: the one in dir/api-key while it still works and holds
// every scope (a key from before a scope was added does not), else a new key with every scope,
// written there (0600).
func ensureDevKey(ctx context.Context, keys *auth.Service, dir string) (string, error) {
	path := filepath.Join(dir, "api-key")
	if b, err := os.ReadFile(path); err == nil {
		if existing := strings.TrimSpace(string(b)); existing != "" {
			if k, err := keys.Authenticate(ctx, existing); err == nil && hasEveryScope(k) {
				return existing, nil
			}
		}
	}
	_, plaintext, err := keys.Create(ctx, auth.CreateParams{Name: "dev", Scopes: auth.AllScopes(), CreatedBy: auth.SystemActor("dev mode")})
	if err != nil {
		return "", fmt.Errorf("dev api key: %w", err)
	}
	if err := os.WriteFile(path, []byte(plaintext+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("dev api key: %w", err)
	}
	return plaintext, nil
}

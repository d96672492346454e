package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/testcontainers/testcontainers-go"

	"github.com/pnonboard/pnonboard/internal/pglocal"
	"github.com/pnonboard/pnonboard/internal/postgres"
)

// server is the process's database server: chosen once by Main, started on first use, and
// stopped when Main's tests end. It is the package's only state, and it exists because Go
// tests are top-level functions that can share nothing else.
type server struct {
	decision Decision

	once     sync.Once
	startErr error
	adminURL string
	admin    *pgxpool.Pool
	stop     func() error
	template string

	txOnce sync.Once
	txDB   *DB
	txErr  error
}

var current *server // set by Main before any test runs; read-only afterwards

// Main chooses the database strategy, runs the package's tests, stops whatever it started and
// exits. Pass os.Getenv: the environment is read here, in test code, and nowhere in the service.
func Main(m *testing.M, getenv func(string) string) {
	os.Exit(runMain(m, getenv))
}

func runMain(m *testing.M, getenv func(string) string) int {
	d, err := Choose(context.Background(), Env{Getenv: getenv})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	current = &server{decision: d}
	code := m.Run()
	if err := current.close(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: stop:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// start brings the server up once; every caller gets the same outcome.
func (s *server) start() error {
	s.once.Do(func() { s.startErr = s.doStart(context.Background()) })
	return s.startErr
}

func (s *server) doStart(ctx context.Context) error {
	switch s.decision.Strategy {
	case StrategyURL:
		s.adminURL, s.stop = s.decision.URL, func() error { return nil }
	case StrategyLocal:
		c, err := pglocal.Start(ctx, &pglocal.Opts{BinDir: s.decision.BinDir})
		if err != nil {
			return fmt.Errorf("start local postgres: %w", err)
		}
		s.adminURL, s.stop = c.URL, func() error { return c.Stop(context.Background()) }
	case StrategyContainer:
		ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		ctr, err := tcpostgres.Run(ctx, "postgres:15-alpine", tcpostgres.BasicWaitStrategies())
		if err != nil {
			return fmt.Errorf("start postgres container: %w", err)
		}
		s.stop = func() error { return testcontainers.TerminateContainer(ctr) }
		if s.adminURL, err = ctr.ConnectionString(ctx, "sslmode=disable"); err != nil {
			return fmt.Errorf("container connection string: %w", err)
		}
	default:
		return fmt.Errorf("unexpected strategy %q", s.decision.Strategy)
	}
	admin, err := postgres.NewPool(ctx, s.adminURL, &postgres.PoolOpts{MaxConns: 4})
	if err != nil {
		return err
	}
	s.admin = admin
	tmpl, err := ensureTemplate(ctx, admin, s.adminURL)
	if err != nil {
		return err
	}
	s.template = tmpl
	return nil
}

func (s *server) close() error {
	if s.startErr != nil || s.admin == nil {
		return nil
	}
	if s.txDB != nil {
		s.txDB.Pool.Close()
		_, _ = s.admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{s.txDB.Name}.Sanitize()+" WITH (FORCE)")
	}
	s.admin.Close()
	return s.stop()
}

// serverFor returns the started server, skipping or failing t when there is none.
func serverFor(t testing.TB) *server {
	t.Helper()
	if current == nil {
		t.Fatal("pgtest: call pgtest.Main(m, os.Getenv) from the package's TestMain")
	}
	if current.decision.Strategy == StrategySkip {
		t.Skip("pgtest: no PostgreSQL for this test: " + current.decision.Reason)
	}
	if err := current.start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return current
}

// DB is a database of its own for one test.
type DB struct {
	// Name of the database; URL connects to it as the server's superuser.
	Name, URL string
	// Pool is open on it (at most 8 connections) and closed at cleanup.
	Pool *pgxpool.Pool
}

// NewDB returns a new database holding every migration, River's schema included, and drops it
// when t ends. Use it whenever the code under test commits: a River client, run(), several
// connections.
func NewDB(t testing.TB) *DB {
	t.Helper()
	s := serverFor(t)
	db, err := s.createDB(context.Background(), s.template)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { s.dropDB(t, db) })
	return db
}

// NewEmptyDB returns a new database with no migrations applied, dropped when t ends.
func NewEmptyDB(t testing.TB) *DB {
	t.Helper()
	s := serverFor(t)
	db, err := s.createDB(context.Background(), "template0")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { s.dropDB(t, db) })
	return db
}

// TestTx begins a transaction on a migrated database shared by the process's tests and rolls
// it back when t ends. It is the cheapest isolation, for code that takes a DBTX and does not
// need to see its own commits from another connection.
func TestTx(t testing.TB) pgx.Tx {
	t.Helper()
	s := serverFor(t)
	s.txOnce.Do(func() { s.txDB, s.txErr = s.createDB(context.Background(), s.template) })
	if s.txErr != nil {
		t.Fatalf("pgtest: %v", s.txErr)
	}
	ctx := context.Background()
	tx, err := s.txDB.Pool.Begin(ctx)
	if err != nil {
		t.Fatalf("pgtest: begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.WithoutCancel(ctx)) })
	return tx
}

func (s *server) createDB(ctx context.Context, template string) (*DB, error) {
	name := "pnonboard_test_" + randomHex(6)
	sql := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", pgx.Identifier{name}.Sanitize(), pgx.Identifier{template}.Sanitize())
	if _, err := s.admin.Exec(ctx, sql); err != nil {
		return nil, fmt.Errorf("create database from %s: %w", template, err)
	}
	dbURL, err := withDatabase(s.adminURL, name)
	if err != nil {
		return nil, err
	}
	pool, err := postgres.NewPool(ctx, dbURL, &postgres.PoolOpts{MaxConns: 8})
	if err != nil {
		return nil, err
	}
	return &DB{Name: name, URL: dbURL, Pool: pool}, nil
}

func (s *server) dropDB(t testing.TB, db *DB) {
	db.Pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db.Name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop %s: %v", db.Name, err)
	}
}

// ensureTemplate builds, once per server and migration set, a database holding every
// migration, for CREATE DATABASE … TEMPLATE to copy. The name carries a hash of the migrations,
// so a changed migration builds a fresh template. An advisory lock serialises test processes
// that share one server (TEST_DATABASE_URL), and the template appears under its final name
// only once fully migrated.
func ensureTemplate(ctx context.Context, admin *pgxpool.Pool, adminURL string) (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "pnonboard_tmpl_" + sum[:12]

	conn, err := admin.Acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("acquire admin connection: %w", err)
	}
	defer conn.Release()
	const lockKey = 0x706e6f62 // "pnob"
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return "", fmt.Errorf("lock template build: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey) }()

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("look for template: %w", err)
	}
	if exists {
		return name, nil
	}

	building := name + "_building_" + randomHex(4)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	buildURL, err := withDatabase(adminURL, building)
	if err != nil {
		return "", err
	}
	if err := migrate(ctx, buildURL); err != nil {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{building}.Sanitize()+" WITH (FORCE)")
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", pgx.Identifier{building}.Sanitize(), pgx.Identifier{name}.Sanitize())); err != nil {
		return "", fmt.Errorf("publish template: %w", err)
	}
	return name, nil
}

func migrate(ctx context.Context, dbURL string) error {
	pool, err := postgres.NewPool(ctx, dbURL, &postgres.PoolOpts{MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := postgres.NewMigrator(pool, migrationsFS(), nil)
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Up(ctx)
	return err
}

// migrationsHash identifies the migration set: every SQL file's name and content, plus River's
// pinned schema version.
func migrationsHash() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "river=%d\n", postgres.RiverSchemaVersion)
	if fsys := migrationsFS(); fsys != nil {
		names, err := fs.Glob(fsys, "*.sql")
		if err != nil {
			return "", err
		}
		sort.Strings(names)
		for _, n := range names {
			b, err := fs.ReadFile(fsys, n)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d\n", n, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func withDatabase(rawURL, name string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", errors.New("pgtest: database URL is not a URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/rivermigrate"
)

const (
	// RiverMigrationVersion is the goose version of the Go migration that installs River's
	// schema. Our SQL migrations start after it.
	RiverMigrationVersion = 1

	// RiverSchemaVersion pins River's own schema version (river v0.51.1 ships 1 through 8).
	// A River upgrade that adds a schema version adds a goose Go migration that moves this
	// target forward; it never edits version 1.
	RiverSchemaVersion = 8

	// migrationLockID keys the session-level advisory lock that serialises migrations across
	// replicas (goose's default ID, named here so it is greppable).
	migrationLockID = lock.DefaultLockID
)

// Migrator applies pnonboard's goose migrations. It holds a database/sql view of the pgx pool
// and must be closed.
type Migrator struct {
	db       *sql.DB
	provider *goose.Provider
}

// NewMigrator builds a Migrator over pool with the SQL migrations in sqlFS (nil for none) plus
// River's schema as version 1. Concurrent Migrators on one database serialise on a Postgres
// session advisory lock, so every replica may migrate at start-up.
func NewMigrator(pool *pgxpool.Pool, sqlFS fs.FS, logger *slog.Logger) (*Migrator, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(migrationLockID),
		lock.WithLockTimeout(1, 600), // poll every second for up to ten minutes
	)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create migration locker: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, sqlFS,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(locker),
		goose.WithSlog(logger),
		goose.WithGoMigrations(goose.NewGoMigration(RiverMigrationVersion,
			&goose.GoFunc{RunDB: riverMigrate(rivermigrate.DirectionUp, RiverSchemaVersion, logger)},
			&goose.GoFunc{RunDB: riverMigrate(rivermigrate.DirectionDown, -1, logger)},
		)),
	)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("create migration provider: %w", err)
	}
	return &Migrator{db: db, provider: provider}, nil
}

// riverMigrate runs River's migrator outside a transaction: some River versions cannot share
// one, and each River version commits on its own.
func riverMigrate(dir rivermigrate.Direction, target int, logger *slog.Logger) func(context.Context, *sql.DB) error {
	return func(ctx context.Context, db *sql.DB) error {
		m, err := rivermigrate.New(riverdatabasesql.New(db), &rivermigrate.Config{Logger: logger})
		if err != nil {
			return fmt.Errorf("create river migrator: %w", err)
		}
		if _, err := m.Migrate(ctx, dir, &rivermigrate.MigrateOpts{TargetVersion: target}); err != nil {
			return fmt.Errorf("river migrate %s to %d: %w", dir, target, err)
		}
		return nil
	}
}

// Close releases the database/sql handle (the pool itself stays open).
func (m *Migrator) Close() error { return m.db.Close() }

// Up applies every pending migration and returns what ran.
func (m *Migrator) Up(ctx context.Context) ([]*goose.MigrationResult, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate up: %w", err)
	}
	return res, nil
}

// Down rolls back the newest applied migration.
func (m *Migrator) Down(ctx context.Context) (*goose.MigrationResult, error) {
	res, err := m.provider.Down(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate down: %w", err)
	}
	return res, nil
}

// DownTo rolls back every migration newer than version (0 = all of them).
func (m *Migrator) DownTo(ctx context.Context, version int64) ([]*goose.MigrationResult, error) {
	res, err := m.provider.DownTo(ctx, version)
	if err != nil {
		return res, fmt.Errorf("migrate down to %d: %w", version, err)
	}
	return res, nil
}

// Status reports every known migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	return st, nil
}

// Versions returns the database's current version and the newest version this binary knows.
// The service is ready only when they are equal.
func (m *Migrator) Versions(ctx context.Context) (current, target int64, err error) {
	current, target, err = m.provider.GetVersions(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migration versions: %w", err)
	}
	return current, target, nil
}

// Package postgres owns pnonboard's connection to PostgreSQL: the pgx pool, the one
// transaction helper every store uses, and the goose migrations (River's schema included).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DBTX is what queries need: a pool, a connection or a transaction. Store functions take it
// explicitly so that every call site shows whether it runs inside a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// PoolOpts tunes NewPool. A nil *PoolOpts means defaults.
type PoolOpts struct {
	// MaxConns caps the pool; zero keeps pgx's default (or the DSN's pool_max_conns).
	MaxConns int32
	// Logger receives a line when the pool is opened; nil discards it.
	Logger *slog.Logger
}

// NewPool opens a pgx pool for databaseURL and checks that the server answers. The caller
// closes the pool. It returns an error naming the host, never the password.
func NewPool(ctx context.Context, databaseURL string, opts *PoolOpts) (*pgxpool.Pool, error) {
	if opts == nil {
		opts = &PoolOpts{}
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's parse errors can quote the DSN; keep only the fact.
		return nil, errors.New("parse database URL: invalid connection string")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool for %s: %w", cfg.ConnConfig.Host, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if opts.Logger != nil {
		opts.Logger.Info("postgres pool open", "host", cfg.ConnConfig.Host, "port", cfg.ConnConfig.Port,
			"database", cfg.ConnConfig.Database, "max_conns", cfg.MaxConns)
	}
	return pool, nil
}

// TxBeginner is satisfied by *pgxpool.Pool and pgx.Tx (the latter starts a savepoint).
type TxBeginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// DB is what a service runs on: queries and transactions. A *pgxpool.Pool in the service; a
// pgx.Tx in a test that rolls everything back (its transactions are savepoints).
type DB interface {
	DBTX
	TxBeginner
}

// WithTx runs fn in a transaction and commits it when fn returns nil. Inside fn, use only tx:
// passing the pool inside a transaction is a bug. The rollback after a failure runs even when
// ctx is already cancelled.
func WithTx(ctx context.Context, db TxBeginner, fn func(ctx context.Context, tx pgx.Tx) error) error {
	_, err := WithTxV(ctx, db, func(ctx context.Context, tx pgx.Tx) (struct{}, error) {
		return struct{}{}, fn(ctx, tx)
	})
	return err
}

// WithTxV is WithTx for a callback that returns a value.
func WithTxV[T any](ctx context.Context, db TxBeginner, fn func(ctx context.Context, tx pgx.Tx) (T, error)) (T, error) {
	var zero T
	tx, err := db.Begin(ctx)
	if err != nil {
		return zero, fmt.Errorf("begin transaction: %w", err)
	}
	defer rollback(ctx, tx)

	v, err := fn(ctx, tx)
	if err != nil {
		return zero, err
	}
	if err := tx.Commit(ctx); err != nil {
		return zero, fmt.Errorf("commit transaction: %w", err)
	}
	return v, nil
}

// rollback ends tx if it is still open. After a commit it is a no-op.
func rollback(ctx context.Context, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx) // ErrTxClosed after a commit; any other failure closes the conn anyway
}

// IsInvalidText reports whether err is Postgres refusing a value's text form (SQLSTATE 22P02),
// as for a malformed UUID in a lookup: for callers, such an ID simply matches nothing.
func IsInvalidText(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "22P02"
}

// Package rescue gets the jobs of a replica that died without a soft stop (SIGKILL, an OOM
// kill, a lost node) running elsewhere within seconds, instead of after River's rescuer
// timeout.
//
// River has no heartbeat: a job left `running` by a dead process waits for
// RescueStuckJobsAfter, which must exceed the longest attempt, measured from the attempt's
// start, and the rescuer only looks every 30 s. Short attempts would shrink that but not below
// half a minute, and every long upstream wait would have to be cut into pieces. So liveness is
// made explicit instead:
//
//   - Each worker replica holds a Lease: a session-level Postgres advisory lock keyed by its
//     River client ID, on a connection of its own with aggressive TCP keepalives. A process
//     that dies closes that connection (a lost node is noticed by the keepalives within about
//     ten seconds), and Postgres releases the lock at once.
//   - Each worker replica runs a Reaper: every couple of seconds it lists the clients that hold
//     running jobs, and tries each one's lock. A lock nobody holds for a grace period means the
//     client is gone: its running jobs are made available again, with an error recorded, and
//     counted as the attempt they were (never as the last one: a crash leaves room for a final
//     attempt, so a job's own give-up logic still runs).
//
// Trade-offs: a replica cut off from Postgres for longer than the grace looks dead too, and its
// jobs start elsewhere while it may still be running them. Workers therefore fence their writes
// (they check, in every transaction, that the job row still names their attempt) and stop at
// the first write after a rescue; what such a replica might still have in flight upstream is
// caught by the create-pending markers and adoption. Clients whose IDs do not carry
// ClientIDPrefix (another program on the same River tables) are left to River's own rescuer.
package rescue

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/postgres"
)

// ClientIDPrefix starts every River client ID this package makes and watches.
const ClientIDPrefix = "pnonboard/"

// lockNamespace is the first key of every lease's advisory lock (the two-key form), so leases
// never collide with other advisory locks in the database.
const lockNamespace int32 = 0x706e6f62 // "pnob"

// NewClientID returns a River client ID for this process: the prefix, the host name (cut to
// fit) and a random suffix, so that restarts on one host never share an ID.
func NewClientID(hostname string) string {
	host := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, hostname)
	if len(host) > 60 {
		host = host[:60]
	}
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return ClientIDPrefix + host + "/" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// lockKey is the second key of clientID's advisory lock.
func lockKey(clientID string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(clientID))
	return int32(h.Sum32())
}

// Lease is a replica's proof of life: the advisory lock of its client ID, held on a dedicated
// connection for as long as the replica runs, and taken back after a lost connection.
type Lease struct {
	clientID string
	config   *pgx.ConnConfig
	logger   *slog.Logger

	mu   sync.Mutex
	conn *pgx.Conn
	done chan struct{}
}

// Acquire takes clientID's lease on a new connection made from config (a copy is modified:
// keepalives, application name), and keeps it until ctx ends or Release is called. It fails
// when the lock is held by someone else, which means the ID is in use.
func Acquire(ctx context.Context, config *pgx.ConnConfig, clientID string, logger *slog.Logger) (*Lease, error) {
	cfg := config.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	// A lost node must release the lock quickly: the server probes an idle connection after
	// 5 s and gives up after three missed probes 2 s apart.
	cfg.RuntimeParams["tcp_keepalives_idle"] = "5"
	cfg.RuntimeParams["tcp_keepalives_interval"] = "2"
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	cfg.RuntimeParams["application_name"] = "pnonboard lease"
	l := &Lease{clientID: clientID, config: cfg, logger: logger, done: make(chan struct{})}
	if err := l.lock(ctx); err != nil {
		return nil, err
	}
	go l.keep(ctx)
	return l, nil
}

// ErrLeaseTaken says another live session holds the lease of this client ID.
var ErrLeaseTaken = errors.New("rescue: the lease of this client ID is held by another session")

func (l *Lease) lock(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.config)
	if err != nil {
		return fmt.Errorf("rescue: lease connection: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, lockNamespace, lockKey(l.clientID)).Scan(&ok); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("rescue: take lease: %w", err)
	}
	if !ok {
		_ = conn.Close(context.WithoutCancel(ctx))
		return ErrLeaseTaken
	}
	l.mu.Lock()
	l.conn = conn
	l.mu.Unlock()
	return nil
}

// keep checks the lease's connection every second and, when it is lost (Postgres restarted,
// a network cut), takes the lock again on a new one, retrying until it can.
func (l *Lease) keep(ctx context.Context) {
	defer close(l.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			l.close()
			return
		case <-tick.C:
		}
		l.mu.Lock()
		conn := l.conn
		l.mu.Unlock()
		if conn != nil {
			pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := conn.Ping(pingCtx)
			cancel()
			if err == nil || ctx.Err() != nil {
				continue
			}
			l.logger.Warn("liveness lease lost; taking it again", "client_id", l.clientID, "err", err)
			l.close()
		}
		if err := l.lock(ctx); err != nil {
			l.logger.Warn("liveness lease not retaken yet", "client_id", l.clientID, "err", err)
			continue
		}
		l.logger.Info("liveness lease retaken", "client_id", l.clientID)
	}
}

func (l *Lease) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.conn.Close(ctx)
		l.conn = nil
	}
}

// Done is closed once the lease is released (its context ended).
func (l *Lease) Done() <-chan struct{} { return l.done }

// ReaperOpts configure a Reaper.
type ReaperOpts struct {
	Pool *pgxpool.Pool
	// Self is this replica's client ID, never reaped.
	Self string
	// Interval is how often to look; zero means 2 s.
	Interval time.Duration
	// Grace is how long a client's lease must be seen free before its jobs are rescued; zero
	// means 5 s. It covers a lease connection being re-made after a blip, and lets a request
	// the dead replica had in flight reach upstream before another replica looks for it.
	Grace  time.Duration
	Logger *slog.Logger
	// OnRescueFunc, when set, hears of every job rescued (for metrics).
	OnRescueFunc func(kind string)
}

// Reaper rescues the running jobs of clients whose lease is gone.
type Reaper struct {
	opts ReaperOpts
	now  func() time.Time
	// deadSince is when each client's lease was first seen free, cleared once seen held.
	deadSince map[string]time.Time
}

// NewReaper returns a Reaper; Run it.
func NewReaper(opts ReaperOpts) *Reaper {
	if opts.Interval == 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Grace == 0 {
		opts.Grace = 5 * time.Second
	}
	return &Reaper{opts: opts, now: time.Now, deadSince: map[string]time.Time{}}
}

// Run looks every Interval until ctx ends.
func (r *Reaper) Run(ctx context.Context) {
	tick := time.NewTicker(r.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("rescue pass failed", "err", err)
		}
	}
}

// RunOnce makes one pass and returns how many jobs it rescued.
func (r *Reaper) RunOnce(ctx context.Context) (int, error) {
	rows, err := r.opts.Pool.Query(ctx, `
		SELECT DISTINCT attempted_by[cardinality(attempted_by)] FROM river_job
		WHERE state = 'running' AND cardinality(attempted_by) > 0`)
	if err != nil {
		return 0, fmt.Errorf("list running clients: %w", err)
	}
	clients, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("list running clients: %w", err)
	}
	seen := map[string]bool{}
	rescued := 0
	for _, c := range clients {
		if c == r.opts.Self || !strings.HasPrefix(c, ClientIDPrefix) {
			continue
		}
		seen[c] = true
		n, err := r.check(ctx, c)
		if err != nil {
			return rescued, err
		}
		rescued += n
	}
	for c := range r.deadSince {
		if !seen[c] {
			delete(r.deadSince, c)
		}
	}
	return rescued, nil
}

// check tries client's lease; when it has been free for the grace, it rescues the client's
// running jobs while holding the lock, so the client cannot come back in the middle.
func (r *Reaper) check(ctx context.Context, client string) (int, error) {
	var rescued int
	err := postgres.WithTx(ctx, r.opts.Pool, func(ctx context.Context, tx pgx.Tx) error {
		var free bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, $2)`, lockNamespace, lockKey(client)).Scan(&free); err != nil {
			return fmt.Errorf("try lease of %s: %w", client, err)
		}
		if !free {
			delete(r.deadSince, client)
			return nil
		}
		since, ok := r.deadSince[client]
		if !ok {
			r.deadSince[client] = r.now()
			return nil
		}
		if r.now().Sub(since) < r.opts.Grace {
			return nil
		}
		rows, err := tx.Query(ctx, `
			UPDATE river_job SET state = 'available', scheduled_at = now(),
				max_attempts = greatest(max_attempts, attempt + 1),
				errors = array_append(errors, jsonb_build_object(
					'at', now(), 'attempt', attempt, 'trace', '',
					'error', 'rescued: replica ' || $1 || ' stopped without finishing this attempt'))
			WHERE state = 'running' AND attempted_by[cardinality(attempted_by)] = $1
			RETURNING kind`, client)
		if err != nil {
			return fmt.Errorf("rescue jobs of %s: %w", client, err)
		}
		kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("rescue jobs of %s: %w", client, err)
		}
		rescued = len(kinds)
		if rescued > 0 {
			r.opts.Logger.Warn("rescued the jobs of a replica that is gone", "client_id", client, "jobs", rescued)
		}
		for _, k := range kinds {
			if r.opts.OnRescueFunc != nil {
				r.opts.OnRescueFunc(k)
			}
		}
		return nil
	})
	if err == nil && rescued > 0 {
		delete(r.deadSince, client)
	}
	return rescued, err
}

package tenants

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// stateChannel is where a trigger announces every change of a tenant's state (migration
// 00010), with the tenant's ID.
const stateChannel = "pnonboard_tenant_state"

// Watcher tells waiters the moment a tenant's state changes: one LISTEN connection per
// replica, fanned out in process. When its connection drops it reconnects, and wakes every
// waiter meanwhile (a change may have gone unheard), so waiters re-read rather than miss it.
// Waiters keep a slow poll as well, for whatever a Watcher cannot promise.
type Watcher struct {
	config *pgx.ConnConfig
	logger *slog.Logger

	mu      sync.Mutex
	waiters map[int64]map[chan struct{}]struct{}
}

// NewWatcher returns a Watcher listening on connections made from config; Run it.
func NewWatcher(config *pgx.ConnConfig, logger *slog.Logger) *Watcher {
	cfg := config.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "pnonboard tenant watcher"
	return &Watcher{config: cfg, logger: logger, waiters: map[int64]map[chan struct{}]struct{}{}}
}

// Watch returns a channel that receives (without blocking the Watcher; at most one pending
// wake-up) when tenant id's state changes, and the func that stops watching.
func (w *Watcher) Watch(id int64) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.waiters[id] == nil {
		w.waiters[id] = map[chan struct{}]struct{}{}
	}
	w.waiters[id][ch] = struct{}{}
	w.mu.Unlock()
	return ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.waiters[id], ch)
		if len(w.waiters[id]) == 0 {
			delete(w.waiters, id)
		}
	}
}

// Run listens until ctx ends, reconnecting after a lost connection.
func (w *Watcher) Run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := w.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		w.wakeAll() // something may have changed while nobody listened
		w.logger.Warn("tenant watcher: listening again", "err", err, "after", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (w *Watcher) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, w.config)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+stateChannel); err != nil {
		return err
	}
	w.wakeAll() // changes before the LISTEN took effect
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			continue
		}
		w.wake(id)
	}
}

func (w *Watcher) wake(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.waiters[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (w *Watcher) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, set := range w.waiters {
		for ch := range set {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

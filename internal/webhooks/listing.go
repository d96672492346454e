package webhooks

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/postgres"
)

// Delivery is one event's delivery to one endpoint, with its attempts.
type Delivery struct {
	ID            string
	EventID       string
	EventType     string
	Status        DeliveryStatus
	Attempts      []Attempt
	NextAttemptAt *time.Time
	CreatedAt     time.Time
	DeliveredAt   *time.Time
	seq           int64
}

// Attempt is one POST of a delivery.
type Attempt struct {
	At              time.Time
	StatusCode      *int
	Duration        time.Duration
	Error           *string
	ResponseExcerpt string
}

// DeliveryStatuses are the outcomes a listing can filter on.
func DeliveryStatuses() []string {
	return []string{string(DeliveryPending), string(DeliverySucceeded), string(DeliveryFailed)}
}

// ListDeliveries returns an endpoint's deliveries, newest first, optionally of one status,
// after cursor; and the next cursor. Returns ErrEndpointNotFound, invalid.ErrCursor.
func (s *Service) ListDeliveries(ctx context.Context, endpointID, status string, limit int, cursor string) ([]*Delivery, string, error) {
	if _, err := s.GetEndpoint(ctx, endpointID); err != nil {
		return nil, "", err
	}
	before := int64(1<<63 - 1)
	if cursor != "" {
		var err error
		if before, err = decodeSeq(cursor); err != nil {
			return nil, "", err
		}
	}
	rows, err := s.opts.DB.Query(ctx, `
		SELECT d.id::text, d.seq, d.event_id, ev.type, d.status, d.next_attempt_at, d.created_at, d.delivered_at
		FROM webhook_deliveries d JOIN events ev ON ev.id = d.event_id
		WHERE d.endpoint_id = $1 AND ($2 = '' OR d.status = $2) AND d.seq < $3
		ORDER BY d.seq DESC LIMIT $4`, endpointID, status, before, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Delivery, error) {
		d := &Delivery{}
		err := r.Scan(&d.ID, &d.seq, &d.EventID, &d.EventType, &d.Status, &d.NextAttemptAt, &d.CreatedAt, &d.DeliveredAt)
		return d, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries: %w", err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = encodeSeq(list[len(list)-1].seq)
	}
	return list, next, s.loadAttempts(ctx, list)
}

// loadAttempts fills in each delivery's attempts. The delivery's status, next attempt and
// delivery time are read again in the same statement, so they agree with the attempts shown:
// a worker records an attempt and the new status in one transaction, and the list's own read
// may have come before it.
func (s *Service) loadAttempts(ctx context.Context, list []*Delivery) error {
	if len(list) == 0 {
		return nil
	}
	byID := map[string]*Delivery{}
	ids := make([]string, len(list))
	for i, d := range list {
		byID[d.ID], ids[i] = d, d.ID
	}
	rows, err := s.opts.DB.Query(ctx, `
		SELECT d.id::text, d.status, d.next_attempt_at, d.delivered_at,
			a.attempted_at, a.status_code, a.duration_ms, a.error, coalesce(a.response_excerpt, '')
		FROM webhook_deliveries d LEFT JOIN webhook_attempts a ON a.delivery_id = d.id
		WHERE d.id = ANY ($1::uuid[]) ORDER BY a.id`, ids)
	if err != nil {
		return fmt.Errorf("load attempts: %w", err)
	}
	_, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) {
		var (
			id      string
			d       Delivery
			at      *time.Time
			a       Attempt
			ms      *int64
			excerpt string
		)
		if err := r.Scan(&id, &d.Status, &d.NextAttemptAt, &d.DeliveredAt, &at, &a.StatusCode, &ms, &a.Error, &excerpt); err != nil {
			return struct{}{}, err
		}
		into := byID[id]
		into.Status, into.NextAttemptAt, into.DeliveredAt = d.Status, d.NextAttemptAt, d.DeliveredAt
		if at != nil { // a delivery without attempts yet
			a.At, a.ResponseExcerpt = *at, excerpt
			if ms != nil {
				a.Duration = time.Duration(*ms) * time.Millisecond
			}
			into.Attempts = append(into.Attempts, a)
		}
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("load attempts: %w", err)
	}
	return nil
}

// RetryDelivery attempts a delivery again now, with the same webhook-id: a finished one
// (failed, or succeeded and wanted again) gets a new series of attempts; a pending one waiting
// for its next retry is moved up to now. Returns ErrEndpointNotFound or ErrDeliveryNotFound.
func (s *Service) RetryDelivery(ctx context.Context, endpointID, deliveryID string) (*Delivery, error) {
	if _, err := s.GetEndpoint(ctx, endpointID); err != nil {
		return nil, err
	}
	d, err := postgres.WithTxV(ctx, s.opts.DB, func(ctx context.Context, tx pgx.Tx) (*Delivery, error) {
		d := &Delivery{}
		err := tx.QueryRow(ctx, `
			SELECT d.id::text, d.seq, d.event_id, ev.type, d.created_at, d.delivered_at
			FROM webhook_deliveries d JOIN events ev ON ev.id = d.event_id
			WHERE d.id = $1 AND d.endpoint_id = $2 FOR UPDATE OF d`, deliveryID, endpointID).
			Scan(&d.ID, &d.seq, &d.EventID, &d.EventType, &d.CreatedAt, &d.DeliveredAt)
		if errors.Is(err, pgx.ErrNoRows) || postgres.IsInvalidText(err) {
			return nil, ErrDeliveryNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("retry delivery: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), updated_at = now() WHERE id = $1`, d.ID); err != nil {
			return nil, fmt.Errorf("retry delivery: %w", err)
		}
		res, err := s.opts.River.InsertTx(ctx, tx, DeliverArgs{DeliveryID: d.ID}, nil)
		if err != nil {
			return nil, fmt.Errorf("retry delivery: %w", err)
		}
		// A live job already exists (the delivery was still pending): run it now rather than
		// at its scheduled retry. One that is running now is left alone.
		if res.UniqueSkippedAsDuplicate && res.Job.State != rivertype.JobStateRunning && res.Job.State != rivertype.JobStateAvailable {
			if _, err := s.opts.River.JobRetryTx(ctx, tx, res.Job.ID); err != nil {
				return nil, fmt.Errorf("retry delivery: %w", err)
			}
		}
		d.Status = DeliveryPending
		return d, nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.loadAttempts(ctx, []*Delivery{d}); err != nil {
		return nil, err
	}
	d.Status = DeliveryPending // the answer to a retry: on its way (its worker may be quicker than this)
	return d, nil
}

// Event is a recorded event, as GET /v1/events lists it.
type Event struct {
	ID               string
	Type             string
	TenantExternalID string
	Payload          json.RawMessage
	CreatedAt        time.Time
}

// EventFilter narrows ListEvents.
type EventFilter struct {
	Type, TenantExternalID string
	CreatedAfter           time.Time
	Limit                  int
	Cursor                 string
}

// ListEvents returns events of the retention window, oldest first, so a receiver that missed
// some can catch up from where it stopped; and the next cursor. Returns invalid.ErrCursor.
//
// Events are listed in the order their transactions were numbered, and only once every older
// transaction has finished, so no event can later appear behind a cursor already handed out.
// The price: a long-running transaction elsewhere in the database holds new events back until
// it ends. The order is the xid8's numeric order (never its text, where 1347 sorts before 886):
// the cursor compares numerically, so the listing must sort the same way.
func (s *Service) ListEvents(ctx context.Context, f EventFilter) ([]Event, string, error) {
	afterXID, afterSeq := "0", int64(0)
	if f.Cursor != "" {
		var err error
		if afterXID, afterSeq, err = decodeEventCursor(f.Cursor); err != nil {
			return nil, "", err
		}
	}
	since := time.Now().Add(-s.opts.Retention)
	if f.CreatedAfter.After(since) {
		since = f.CreatedAfter
	}
	rows, err := s.opts.DB.Query(ctx, `
		SELECT id, xid::text AS xid_text, seq, type, coalesce(tenant_external_id, ''), payload::text, created_at FROM events
		WHERE (xid, seq) > ($1::xid8, $2) AND xid < pg_snapshot_xmin(pg_current_snapshot())
		  AND created_at >= $3 AND ($4 = '' OR type = $4) AND ($5 = '' OR tenant_external_id = $5)
		ORDER BY events.xid, events.seq LIMIT $6`, afterXID, afterSeq, since, f.Type, f.TenantExternalID, f.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	type position struct {
		xid string
		seq int64
	}
	var positions []position
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		var p position
		var payload string
		if err := r.Scan(&e.ID, &p.xid, &p.seq, &e.Type, &e.TenantExternalID, &payload, &e.CreatedAt); err != nil {
			return e, err
		}
		e.Payload = json.RawMessage(payload)
		positions = append(positions, p)
		return e, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list events: %w", err)
	}
	next := ""
	if len(events) > f.Limit {
		events = events[:f.Limit]
		last := positions[f.Limit-1]
		next = base64.RawURLEncoding.EncodeToString([]byte("ev:" + last.xid + ":" + strconv.FormatInt(last.seq, 10)))
	}
	return events, next, nil
}

func decodeEventCursor(c string) (string, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", 0, invalid.ErrCursor
	}
	rest, ok := strings.CutPrefix(string(b), "ev:")
	xid, seqText, found := strings.Cut(rest, ":")
	if !ok || !found {
		return "", 0, invalid.ErrCursor
	}
	if _, err := strconv.ParseUint(xid, 10, 64); err != nil {
		return "", 0, invalid.ErrCursor
	}
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if err != nil || seq < 0 {
		return "", 0, invalid.ErrCursor
	}
	return xid, seq, nil
}

func encodeSeq(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("seq:" + strconv.FormatInt(seq, 10)))
}

func decodeSeq(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 5 || string(b[:4]) != "seq:" {
		return 0, invalid.ErrCursor
	}
	n, err := strconv.ParseInt(string(b[4:]), 10, 64)
	if err != nil || n < 0 {
		return 0, invalid.ErrCursor
	}
	return n, nil
}

// PruneArgs is the periodic job that deletes events (and their deliveries) past retention.
type PruneArgs struct{}

// Kind is the job's stable name.
func (PruneArgs) Kind() string { return "events_prune" }

// PruneWorker deletes old events in batches.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	Pool *pgxpool.Pool
	// Retention is how long events are kept; zero means 30 days.
	Retention time.Duration
}

// Work deletes events older than the retention, a batch at a time.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	cutoff := time.Now().Add(-cmp.Or(w.Retention, 30*24*time.Hour))
	for {
		tag, err := w.Pool.Exec(ctx, `
			DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < $1 LIMIT 5000)`, cutoff)
		if err != nil {
			return fmt.Errorf("prune events: %w", err)
		}
		if tag.RowsAffected() < 5000 {
			return nil
		}
	}
}

// PeriodicPrune schedules PruneArgs hourly (and at start) on the leader.
func PeriodicPrune() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return PruneArgs{}, nil },
		&river.PeriodicJobOpts{ID: "events_prune", RunOnStart: true})
}

package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pnonboard/pnonboard/internal/tenants"
)

// Payload is the body of every webhook: {type, timestamp, data: {tenant}}, the tenant as the
// API shows it.
type Payload struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      PayloadData `json:"data"`
}

// PayloadData is a webhook's data member.
type PayloadData struct {
	Tenant tenants.View `json:"tenant"`
}

// Announcer writes events and their deliveries inside the caller's transaction (the one that
// made the change), so an event exists exactly when its change committed, once. It is the
// provisioner's Announcer.
type Announcer struct {
	// Client inserts the delivery jobs. Nil means the River client of the worker the call runs
	// in (river.ClientFromContext), which is how the provisioner calls it.
	Client *river.Client[pgx.Tx]
}

// Announce records the event of outcome about t and one delivery, with its job, for every
// enabled endpoint subscribed to its type.
func (a Announcer) Announce(ctx context.Context, tx pgx.Tx, outcome tenants.Outcome, t *tenants.Tenant) error {
	eventType := EventTypeOf(outcome)
	client := a.Client
	if client == nil {
		var err error
		if client, err = river.ClientFromContextSafely[pgx.Tx](ctx); err != nil {
			return fmt.Errorf("announce %s: %w", eventType, err)
		}
	}
	id := newEventID()
	now := time.Now().UTC()
	body, err := json.Marshal(Payload{Type: eventType, Timestamp: now, Data: PayloadData{Tenant: t.View()}})
	if err != nil {
		return fmt.Errorf("encode %s event: %w", eventType, err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO events (id, type, tenant_id, tenant_external_id, payload, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, id, eventType, t.ID, t.ExternalID, string(body), now)
	if err != nil {
		return fmt.Errorf("insert %s event: %w", eventType, err)
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO webhook_deliveries (endpoint_id, event_id, status)
		SELECT id, $1, $3 FROM webhook_endpoints
		WHERE enabled AND (cardinality(event_types) = 0 OR $2 = ANY (event_types))
		RETURNING id::text`, id, eventType, DeliveryPending)
	if err != nil {
		return fmt.Errorf("insert deliveries of %s: %w", id, err)
	}
	deliveries, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("insert deliveries of %s: %w", id, err)
	}
	if len(deliveries) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(deliveries))
	for i, d := range deliveries {
		params[i] = river.InsertManyParams{Args: DeliverArgs{DeliveryID: d}}
	}
	if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue deliveries of %s: %w", id, err)
	}
	return nil
}

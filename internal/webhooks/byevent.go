package webhooks

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// EventDelivery is a delivery seen from its event: which endpoint it went to, and how it went.
type EventDelivery struct {
	EndpointID  string
	EndpointURL string
	Delivery
}

// DeliveriesOfEvents returns the deliveries of the events with eventIDs, with their attempts,
// keyed by event ID (an event no endpoint subscribed to has none), each event's in the order
// they were made. It is how a support view shows what was sent about one tenant.
func (s *Service) DeliveriesOfEvents(ctx context.Context, eventIDs []string) (map[string][]*EventDelivery, error) {
	out := map[string][]*EventDelivery{}
	if len(eventIDs) == 0 {
		return out, nil
	}
	rows, err := s.opts.DB.Query(ctx, `
		SELECT d.id::text, d.seq, d.event_id, ev.type, d.status, d.next_attempt_at, d.created_at, d.delivered_at,
			e.id::text, e.url
		FROM webhook_deliveries d
		JOIN events ev ON ev.id = d.event_id
		JOIN webhook_endpoints e ON e.id = d.endpoint_id
		WHERE d.event_id = ANY ($1::text[])
		ORDER BY d.seq`, eventIDs)
	if err != nil {
		return nil, fmt.Errorf("list deliveries of events: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*EventDelivery, error) {
		d := &EventDelivery{}
		err := r.Scan(&d.ID, &d.seq, &d.EventID, &d.EventType, &d.Status, &d.NextAttemptAt, &d.CreatedAt, &d.DeliveredAt,
			&d.EndpointID, &d.EndpointURL)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("list deliveries of events: %w", err)
	}
	plain := make([]*Delivery, len(list))
	for i, d := range list {
		plain[i] = &d.Delivery
		out[d.EventID] = append(out[d.EventID], d)
	}
	if err := s.loadAttempts(ctx, plain); err != nil {
		return nil, err
	}
	return out, nil
}

package webhooks_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

func TestDeliveriesOfEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := webhooks.NewService(webhooks.ServiceOpts{DB: db.Pool})

	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := db.Pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	var a, b string
	require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (url, secret_sealed) VALUES ('https://a.example/h', '\x00') RETURNING id::text`).Scan(&a))
	require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (url, secret_sealed) VALUES ('https://b.example/h', '\x00') RETURNING id::text`).Scan(&b))
	exec(`INSERT INTO events (id, type, tenant_external_id, payload) VALUES ('evt_1', 'tenant.provisioned', 'acme', '{}'), ('evt_2', 'tenant.disabled', 'acme', '{}'), ('evt_3', 'tenant.provisioned', 'other', '{}')`)
	var d1, d2, d3 string
	require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, status) VALUES ($1, 'evt_1', 'succeeded') RETURNING id::text`, a).Scan(&d1))
	require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, status) VALUES ($1, 'evt_1', 'failed') RETURNING id::text`, b).Scan(&d2))
	require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, status) VALUES ($1, 'evt_3', 'pending') RETURNING id::text`, a).Scan(&d3))
	exec(`INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms, response_excerpt) VALUES ($1, now(), 204, 12, ''), ($2, now(), 500, 30, 'boom'), ($2, now(), 502, 31, 'still')`, d1, d2)

	t.Run("Success", func(t *testing.T) {
		t.Parallel()
		got, err := svc.DeliveriesOfEvents(ctx, []string{"evt_1", "evt_2"})
		require.NoError(t, err)
		require.Len(t, got, 1, "evt_2 went nowhere; evt_3 was not asked for")
		require.Len(t, got["evt_1"], 2)
		first, second := got["evt_1"][0], got["evt_1"][1]
		require.Equal(t, []string{d1, a, "https://a.example/h", string(webhooks.DeliverySucceeded), webhooks.TypeProvisioned}, []string{first.ID, first.EndpointID, first.EndpointURL, string(first.Status), first.EventType})
		require.Len(t, first.Attempts, 1)
		require.Equal(t, []string{d2, b, string(webhooks.DeliveryFailed)}, []string{second.ID, second.EndpointID, string(second.Status)})
		require.Len(t, second.Attempts, 2)
		require.Equal(t, "boom", second.Attempts[0].ResponseExcerpt)
		require.Equal(t, 502, *second.Attempts[1].StatusCode)
	})

	t.Run("None", func(t *testing.T) {
		t.Parallel()
		got, err := svc.DeliveriesOfEvents(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}

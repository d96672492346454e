package tenants

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pnonboard/pnonboard/internal/postgres"
)

// UsageTenant is what the usage sync and the usage report need of a tenant: who it is, and the
// upstream app and keysets whose usage is its own.
type UsageTenant struct {
	ID         int64
	ExternalID string
	Name       string
	State      State
	// AppID is the tenant's PubNub app ("" until it is created).
	AppID string
	// Keysets are the keysets created so far, in the tenant's environment order.
	Keysets    []UsageKeyset
	CreatedAt  time.Time
	DisabledAt *time.Time
}

// UsageKeyset is one environment's keyset ID.
type UsageKeyset struct {
	Environment string
	KeysetID    string
}

// ListForUsage returns up to limit tenants whose ID is above after, in ID order (a stable
// order to page by: pass the last ID of a page as the next page's after), each with its app ID
// and created keysets. Every tenant is listed, whatever its state; the caller decides whose
// usage counts.
func ListForUsage(ctx context.Context, db postgres.DBTX, after int64, limit int) ([]UsageTenant, error) {
	rows, err := db.Query(ctx, `
		SELECT t.id, t.external_id, t.name, t.state, coalesce(t.app_id, ''), t.created_at, t.disabled_at,
			coalesce(k.environments, '{}'), coalesce(k.ids, '{}')
		FROM tenants t
		LEFT JOIN LATERAL (
			SELECT array_agg(environment ORDER BY position) AS environments, array_agg(keyset_id ORDER BY position) AS ids
			FROM tenant_keysets WHERE tenant_id = t.id AND keyset_id IS NOT NULL
		) k ON true
		WHERE t.id > $1
		ORDER BY t.id
		LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list tenants for usage: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (UsageTenant, error) {
		var t UsageTenant
		var envs, ids []string
		if err := row.Scan(&t.ID, &t.ExternalID, &t.Name, &t.State, &t.AppID, &t.CreatedAt, &t.DisabledAt, &envs, &ids); err != nil {
			return t, err
		}
		t.Keysets = make([]UsageKeyset, len(envs))
		for i := range envs {
			t.Keysets[i] = UsageKeyset{Environment: envs[i], KeysetID: ids[i]}
		}
		return t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants for usage: %w", err)
	}
	return list, nil
}

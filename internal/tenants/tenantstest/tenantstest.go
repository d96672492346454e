// Package tenantstest puts tenants into the states other packages' tests need, and reads them
// back, without those tests writing SQL on the tenants tables: that SQL lives here, beside the
// package that owns the tables, so a schema change is made in one place.
package tenantstest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// Insert adds a tenant in state with one environment, as if it had got there by itself, and
// returns it. No job is enqueued.
func Insert(t testing.TB, db postgres.DBTX, externalID string, state tenants.State, environment string) *tenants.Tenant {
	t.Helper()
	ctx := context.Background()
	var id int64
	require.NoError(t, db.QueryRow(ctx, `
		INSERT INTO tenants (external_id, name, environments, state, desired_state) VALUES ($1, $1, ARRAY[$3], $2, 'active') RETURNING id`,
		externalID, state, environment).Scan(&id))
	_, err := db.Exec(ctx, `
		INSERT INTO tenant_keysets (tenant_id, environment, position, upstream_name, keyset_type) VALUES ($1, $2, 0, $3, 'testing')`,
		id, environment, tenants.KeysetName(externalID, environment))
	require.NoError(t, err)
	tn, err := tenants.Get(ctx, db, id)
	require.NoError(t, err)
	return tn
}

// ID returns the tenant's internal ID.
func ID(t testing.TB, db postgres.DBTX, externalID string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, db.QueryRow(context.Background(), `SELECT id FROM tenants WHERE external_id = $1`, externalID).Scan(&id))
	return id
}

// SetState puts the tenant in state with desired, as if a worker had.
func SetState(t testing.TB, db postgres.DBTX, externalID string, state tenants.State, desired tenants.Desired) {
	t.Helper()
	tag, err := db.Exec(context.Background(), `UPDATE tenants SET state = $2, desired_state = $3 WHERE external_id = $1`, externalID, state, desired)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected(), "no tenant %q", externalID)
}

// SetFailure records msg and step as the tenant's failure, as the provisioner would.
func SetFailure(t testing.TB, db postgres.DBTX, externalID, msg, step string) {
	t.Helper()
	tag, err := db.Exec(context.Background(), `UPDATE tenants SET last_error = $2, failed_step = $3 WHERE external_id = $1`, externalID, msg, step)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected(), "no tenant %q", externalID)
}

// AddEvents appends events to the tenant's timeline.
func AddEvents(t testing.TB, db postgres.DB, externalID string, events ...tenants.Event) {
	t.Helper()
	id := ID(t, db, externalID)
	require.NoError(t, postgres.WithTx(context.Background(), db, func(ctx context.Context, tx pgx.Tx) error {
		return tenants.AddEvents(ctx, tx, id, events...)
	}))
}

// SetCreatedAt backdates (or postdates) the tenant's creation.
func SetCreatedAt(t testing.TB, db postgres.DBTX, externalID string, at time.Time) {
	t.Helper()
	_, err := db.Exec(context.Background(), `UPDATE tenants SET created_at = $2 WHERE external_id = $1`, externalID, at)
	require.NoError(t, err)
}

// Keyset is what a tenant holds of one environment's keyset upstream.
type Keyset struct {
	KeysetID, PublishKey, SubscribeKey string
	SecretKeySealed                    []byte
	Assigned                           bool // to the tenant's customer
}

// HoldKeyset makes the tenant hold k for environment, as if it had created it.
func HoldKeyset(t testing.TB, db postgres.DBTX, tenantID int64, environment string, k Keyset) {
	t.Helper()
	tag, err := db.Exec(context.Background(), `
		UPDATE tenant_keysets SET keyset_id = $3, publish_key = $4, subscribe_key = $5, secret_key_sealed = $6, assigned = $7
		WHERE tenant_id = $1 AND environment = $2`, tenantID, environment, k.KeysetID, k.PublishKey, k.SubscribeKey, k.SecretKeySealed, k.Assigned)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected())
}

// SetSecret replaces the sealed secret key the tenant holds for environment.
func SetSecret(t testing.TB, db postgres.DBTX, tenantID int64, environment string, sealed []byte) {
	t.Helper()
	tag, err := db.Exec(context.Background(), `UPDATE tenant_keysets SET secret_key_sealed = $3 WHERE tenant_id = $1 AND environment = $2`,
		tenantID, environment, sealed)
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected())
}

// Provisioned marks the tenant active and provisioned, holding appID and customerID (its
// keysets are set with HoldKeyset).
func Provisioned(t testing.TB, db postgres.DBTX, tenantID int64, appID, customerID string) {
	t.Helper()
	_, err := db.Exec(context.Background(), `
		UPDATE tenants SET state = 'active', app_id = $2, customer_id = $3, customer_name = name, provisioned_at = now(),
			verified_at = now() WHERE id = $1`, tenantID, appID, customerID)
	require.NoError(t, err)
}

// Disabled does to the tenant what a completed disable does: a new lock generation, the
// tenant disabled, each keyset locked and rotated for it. It returns the generation.
func Disabled(t testing.TB, db postgres.DBTX, tenantID int64) int {
	t.Helper()
	ctx := context.Background()
	var gen int
	require.NoError(t, db.QueryRow(ctx, `
		UPDATE tenants SET state = 'disabled', desired_state = 'disabled', lock_generation = lock_generation + 1, disabled_at = now()
		WHERE id = $1 RETURNING lock_generation`, tenantID).Scan(&gen))
	_, err := db.Exec(ctx, `UPDATE tenant_keysets SET access_locked = true, rotate_for = $2, rotated_for = $2 WHERE tenant_id = $1`, tenantID, gen)
	require.NoError(t, err)
	return gen
}

// HoldApp makes the tenant hold appID, as if it had created it.
func HoldApp(t testing.TB, db postgres.DBTX, tenantID int64, appID string) {
	t.Helper()
	_, err := db.Exec(context.Background(), `UPDATE tenants SET app_id = $2 WHERE id = $1`, tenantID, appID)
	require.NoError(t, err)
}

// AgeConfirmation moves back, by d, when upstream last confirmed what the tenant holds (a
// create's answer, a check, the drift sweep).
func AgeConfirmation(t testing.TB, db postgres.DBTX, tenantID int64, d time.Duration) {
	t.Helper()
	_, err := db.Exec(context.Background(), `
		UPDATE tenants SET verified_at = verified_at - $2::interval, last_checked_at = last_checked_at - $2::interval
		WHERE id = $1`, tenantID, d)
	require.NoError(t, err)
}

// MarkAppPending sets the app's create-pending marker: a create was sent and its answer lost.
func MarkAppPending(t testing.TB, db postgres.DBTX, tenantID int64) {
	t.Helper()
	_, err := db.Exec(context.Background(), `UPDATE tenants SET app_pending_at = now() WHERE id = $1`, tenantID)
	require.NoError(t, err)
}

// All returns every tenant with its keysets, by externalId.
func All(t testing.TB, db postgres.DBTX) []*tenants.Tenant {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Query(ctx, `SELECT id FROM tenants ORDER BY external_id`)
	require.NoError(t, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	out := make([]*tenants.Tenant, len(ids))
	for i, id := range ids {
		out[i], err = tenants.Get(ctx, db, id)
		require.NoError(t, err)
	}
	return out
}

// Count returns how many tenants are in state.
func Count(t testing.TB, db postgres.DBTX, state tenants.State) int {
	t.Helper()
	counts, err := tenants.CountByState(context.Background(), db)
	require.NoError(t, err)
	return counts[state]
}

// Change loads the tenant under its row lock, lets fn change it as a worker or an action would
// (drift found by a check, a retired environment), and saves it. No job is enqueued.
func Change(t testing.TB, db postgres.DB, externalID string, fn func(tn *tenants.Tenant)) {
	t.Helper()
	id := ID(t, db, externalID)
	require.NoError(t, postgres.WithTx(context.Background(), db, func(ctx context.Context, tx pgx.Tx) error {
		tn, err := tenants.GetForUpdate(ctx, tx, id)
		if err != nil {
			return err
		}
		fn(tn)
		return tenants.Save(ctx, tx, tn)
	}))
}

package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pnonboard/pnonboard/internal/postgres"
)

// Event is one entry of a tenant's timeline.
type Event struct {
	ID     int64
	At     time.Time
	Actor  string
	Action Action
	Detail map[string]any
}

const tenantColumns = `id, external_id, name, environments, metadata, state, desired_state,
	app_id, app_pending_at, customer_id, customer_pending_at, customer_name, assign_pending_at,
	app_rename_pending, lock_generation, verified_at, drift, last_checked_at, check_requested,
	last_error, failed_step, created_at, updated_at, provisioned_at, disabled_at`

func scanTenant(row pgx.Row) (*Tenant, error) {
	t := &Tenant{}
	var appID, customerID, customerName, checkRequested, lastError, failedStep *string
	err := row.Scan(&t.ID, &t.ExternalID, &t.Name, &t.Environments, &t.Metadata, &t.State, &t.Desired,
		&appID, &t.AppPendingAt, &customerID, &t.CustomerPendingAt, &customerName, &t.AssignPendingAt,
		&t.AppRenamePending, &t.LockGeneration, &t.VerifiedAt, &t.Drift, &t.LastCheckedAt, &checkRequested,
		&lastError, &failedStep, &t.CreatedAt, &t.UpdatedAt, &t.ProvisionedAt, &t.DisabledAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	t.AppID, t.CustomerID, t.LastError, t.FailedStep = deref(appID), deref(customerID), deref(lastError), deref(failedStep)
	t.CustomerName, t.CheckRequested = deref(customerName), CheckRequest(deref(checkRequested))
	if t.Drift == nil {
		t.Drift = []Drift{}
	}
	if t.Metadata == nil {
		t.Metadata = map[string]string{}
	}
	return t, nil
}

const keysetColumns = `environment, position, upstream_name, keyset_type, keyset_id, publish_key, subscribe_key,
	secret_key_sealed, create_pending_at, assigned, access_locked, rotate_for, rotated_for, rotate_pending_at,
	retired_at, rename_pending`

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// loadKeysets fills the keysets of tenants, in environment order, with one query.
func loadKeysets(ctx context.Context, db postgres.DBTX, list ...*Tenant) error {
	if len(list) == 0 {
		return nil
	}
	byID := make(map[int64]*Tenant, len(list))
	ids := make([]int64, len(list))
	for i, t := range list {
		byID[t.ID], ids[i] = t, t.ID
	}
	rows, err := db.Query(ctx, `SELECT tenant_id, `+keysetColumns+` FROM tenant_keysets WHERE tenant_id = ANY($1) ORDER BY tenant_id, position`, ids)
	if err != nil {
		return fmt.Errorf("load keysets: %w", err)
	}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var k Keyset
		var tenantID int64
		var keysetID, pub, sub *string
		if err := row.Scan(&tenantID, &k.Environment, &k.Position, &k.UpstreamName, &k.Type, &keysetID, &pub, &sub,
			&k.SecretKeySealed, &k.CreatePendingAt, &k.Assigned, &k.AccessLocked, &k.RotateFor, &k.RotatedFor, &k.RotatePendingAt,
			&k.RetiredAt, &k.RenamePending); err != nil {
			return struct{}{}, err
		}
		k.KeysetID, k.PublishKey, k.SubscribeKey = deref(keysetID), deref(pub), deref(sub)
		byID[tenantID].Keysets = append(byID[tenantID].Keysets, k)
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("load keysets: %w", err)
	}
	return nil
}

// Get loads the tenant with id and its keysets. Returns ErrNotFound.
func Get(ctx context.Context, db postgres.DBTX, id int64) (*Tenant, error) {
	t, err := scanTenant(db.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	if err != nil {
		return nil, wrapNotFound(err, "get tenant %d", id)
	}
	return t, loadKeysets(ctx, db, t)
}

// GetForUpdate is Get that locks the tenant's row until tx ends: the one way writers
// serialise on a tenant.
func GetForUpdate(ctx context.Context, tx pgx.Tx, id int64) (*Tenant, error) {
	t, err := scanTenant(tx.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return nil, wrapNotFound(err, "lock tenant %d", id)
	}
	return t, loadKeysets(ctx, tx, t)
}

// getByExternalID loads a tenant by externalId, locking it when forUpdate.
func getByExternalID(ctx context.Context, db postgres.DBTX, externalID string, forUpdate bool) (*Tenant, error) {
	q := `SELECT ` + tenantColumns + ` FROM tenants WHERE external_id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	t, err := scanTenant(db.QueryRow(ctx, q, externalID))
	if err != nil {
		return nil, wrapNotFound(err, "get tenant %q", externalID)
	}
	return t, loadKeysets(ctx, db, t)
}

func wrapNotFound(err error, format string, args ...any) error {
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// Save writes back everything a worker or an action may change on t and its keysets (a
// keyset new to t, an environment added, is inserted), and bumps updated_at. Call it inside
// the transaction that loaded t with GetForUpdate.
func Save(ctx context.Context, tx pgx.Tx, t *Tenant) error {
	drift := t.Drift
	if drift == nil {
		drift = []Drift{}
	}
	err := tx.QueryRow(ctx, `
		UPDATE tenants SET name = $2, environments = $3, metadata = $4, state = $5, desired_state = $6,
			app_id = $7, app_pending_at = $8, customer_id = $9, customer_pending_at = $10, customer_name = $11,
			assign_pending_at = $12, app_rename_pending = $13, lock_generation = $14, verified_at = $15,
			drift = $16, last_checked_at = $17, last_error = $18, failed_step = $19, provisioned_at = $20,
			disabled_at = $21, check_requested = $22, updated_at = clock_timestamp()
		WHERE id = $1 RETURNING updated_at`,
		t.ID, t.Name, t.Environments, t.Metadata, t.State, t.Desired,
		nullable(t.AppID), t.AppPendingAt, nullable(t.CustomerID), t.CustomerPendingAt, nullable(t.CustomerName),
		t.AssignPendingAt, t.AppRenamePending, t.LockGeneration, t.VerifiedAt,
		drift, t.LastCheckedAt, nullable(t.LastError), nullable(t.FailedStep), t.ProvisionedAt,
		t.DisabledAt, nullable(string(t.CheckRequested))).Scan(&t.UpdatedAt)
	if err != nil {
		return fmt.Errorf("save tenant %d: %w", t.ID, err)
	}
	n := len(t.Keysets)
	var (
		envs, names, types  = make([]string, n), make([]string, n), make([]string, n)
		positions           = make([]int32, n)
		ids, pubs, subs     = make([]*string, n), make([]*string, n), make([]*string, n)
		sealed              = make([][]byte, n)
		pending, rotPending = make([]*time.Time, n), make([]*time.Time, n)
		retired             = make([]*time.Time, n)
		assigned, locked    = make([]bool, n), make([]bool, n)
		renamePending       = make([]bool, n)
		rotateFor, rotated  = make([]int32, n), make([]int32, n)
	)
	for i, k := range t.Keysets {
		envs[i], names[i], types[i], positions[i] = k.Environment, k.UpstreamName, k.Type, int32(k.Position)
		ids[i], pubs[i], subs[i] = nullable(k.KeysetID), nullable(k.PublishKey), nullable(k.SubscribeKey)
		sealed[i], pending[i], rotPending[i], retired[i] = k.SecretKeySealed, k.CreatePendingAt, k.RotatePendingAt, k.RetiredAt
		assigned[i], locked[i], renamePending[i] = k.Assigned, k.AccessLocked, k.RenamePending
		rotateFor[i], rotated[i] = int32(k.RotateFor), int32(k.RotatedFor)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO tenant_keysets AS k (tenant_id, environment, position, upstream_name, keyset_type, keyset_id,
			publish_key, subscribe_key, secret_key_sealed, create_pending_at, assigned, access_locked, rotate_for,
			rotated_for, rotate_pending_at, retired_at, rename_pending)
		SELECT $1, u.* FROM unnest($2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::bytea[], $10::timestamptz[], $11::boolean[], $12::boolean[], $13::int[], $14::int[], $15::timestamptz[],
			$16::timestamptz[], $17::boolean[]) AS u
		ON CONFLICT (tenant_id, environment) DO UPDATE SET position = excluded.position, keyset_id = excluded.keyset_id,
			publish_key = excluded.publish_key, subscribe_key = excluded.subscribe_key,
			secret_key_sealed = excluded.secret_key_sealed, create_pending_at = excluded.create_pending_at,
			assigned = excluded.assigned, access_locked = excluded.access_locked, rotate_for = excluded.rotate_for,
			rotated_for = excluded.rotated_for, rotate_pending_at = excluded.rotate_pending_at,
			retired_at = excluded.retired_at, rename_pending = excluded.rename_pending, updated_at = clock_timestamp()`,
		t.ID, envs, positions, names, types, ids, pubs, subs, sealed, pending, assigned, locked, rotateFor, rotated,
		rotPending, retired, renamePending)
	if err != nil {
		return fmt.Errorf("save keysets of tenant %d: %w", t.ID, err)
	}
	// An environment removed before its keyset was ever sent upstream leaves no keyset behind.
	if _, err := tx.Exec(ctx, `
		DELETE FROM tenant_keysets WHERE tenant_id = $1 AND NOT environment = ANY($2)
			AND keyset_id IS NULL AND create_pending_at IS NULL`, t.ID, envs); err != nil {
		return fmt.Errorf("drop keysets of tenant %d: %w", t.ID, err)
	}
	return nil
}

// AddEvents appends to a tenant's timeline.
func AddEvents(ctx context.Context, tx pgx.Tx, tenantID int64, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	actors, actions, details := make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		d := e.Detail
		if d == nil {
			d = map[string]any{}
		}
		b, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", e.Action, err)
		}
		actors[i], actions[i], details[i] = e.Actor, string(e.Action), string(b)
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO tenant_events (tenant_id, actor, action, detail)
		SELECT $1, a.actor, a.action, a.detail::jsonb
		FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS a(actor, action, detail, n)
		ORDER BY a.n`, tenantID, actors, actions, details)
	if err != nil {
		return fmt.Errorf("add events to tenant %d: %w", tenantID, err)
	}
	return nil
}

// CountByState counts tenants in each state; every state is present, zero or not.
func CountByState(ctx context.Context, db postgres.DBTX) (map[State]int, error) {
	counts := map[State]int{}
	for _, st := range AllStates() {
		counts[st] = 0
	}
	rows, err := db.Query(ctx, `SELECT state, count(*) FROM tenants GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("count tenants: %w", err)
	}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var st State
		var n int
		err := row.Scan(&st, &n)
		counts[st] = n
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("count tenants: %w", err)
	}
	return counts, nil
}

// LatestSealedSecret returns the keyset secret sealed most recently, with the associated data
// it was sealed under and a name for people, so start-up can prove the encryption key opens
// what is stored; ok is false when none is stored.
func LatestSealedSecret(ctx context.Context, db postgres.DBTX) (what string, sealed, aad []byte, ok bool, err error) {
	var tenantID int64
	var env string
	err = db.QueryRow(ctx, `
		SELECT tenant_id, environment, secret_key_sealed FROM tenant_keysets
		WHERE secret_key_sealed IS NOT NULL ORDER BY updated_at DESC LIMIT 1`).Scan(&tenantID, &env, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil, nil, false, nil
	}
	if err != nil {
		return "", nil, nil, false, fmt.Errorf("read a sealed keyset secret: %w", err)
	}
	return fmt.Sprintf("the secret key of tenant %d's %s keyset", tenantID, env), sealed, SecretAAD(tenantID, env), true, nil
}

// ListInFlight returns up to limit tenants in flight (see InFlight) that have not changed for
// quietFor: those a sweep gives a reconcile job when theirs was lost.
func ListInFlight(ctx context.Context, db postgres.DBTX, quietFor time.Duration, limit int) ([]int64, error) {
	states := make([]string, 0, len(InFlight()))
	for _, st := range InFlight() {
		states = append(states, string(st))
	}
	rows, err := db.Query(ctx, `
		SELECT id FROM tenants
		WHERE state = ANY ($1) AND updated_at < now() - $2 * interval '1 millisecond'
		ORDER BY id LIMIT $3`, states, quietFor.Milliseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("list tenants in flight: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list tenants in flight: %w", err)
	}
	return ids, nil
}

// CountHeld counts the apps and keysets pnonboard holds upstream (or has a create pending
// for), to estimate where the newest ones are in PubNub's listings.
func CountHeld(ctx context.Context, db postgres.DBTX) (apps, keysets int, err error) {
	err = db.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM tenants WHERE app_id IS NOT NULL OR app_pending_at IS NOT NULL),
		       (SELECT count(*) FROM tenant_keysets WHERE keyset_id IS NOT NULL OR create_pending_at IS NOT NULL)`).Scan(&apps, &keysets)
	if err != nil {
		return 0, 0, fmt.Errorf("count held resources: %w", err)
	}
	return apps, keysets, nil
}

// LockState returns the tenant's state and lock generation as committed now.
func LockState(ctx context.Context, db postgres.DBTX, id int64) (State, int, error) {
	var st State
	var gen int
	err := db.QueryRow(ctx, `SELECT state, lock_generation FROM tenants WHERE id = $1`, id).Scan(&st, &gen)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, ErrNotFound
	}
	if err != nil {
		return "", 0, fmt.Errorf("read lock state of tenant %d: %w", id, err)
	}
	return st, gen, nil
}

// LockFloors returns, for each of the tenants, the lock generation each fully locked keyset
// (by environment) was locked for: credentials issued before it are to be revoked.
func LockFloors(ctx context.Context, db postgres.DBTX, tenantIDs []int64) (map[int64]map[string]int, error) {
	rows, err := db.Query(ctx, `
		SELECT tenant_id, environment, rotate_for FROM tenant_keysets
		WHERE tenant_id = ANY($1) AND access_locked AND rotated_for >= rotate_for AND rotate_for > 0`, tenantIDs)
	if err != nil {
		return nil, fmt.Errorf("read lock floors: %w", err)
	}
	floors := map[int64]map[string]int{}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var id int64
		var env string
		var gen int
		err := row.Scan(&id, &env, &gen)
		if floors[id] == nil {
			floors[id] = map[string]int{}
		}
		floors[id][env] = gen
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("read lock floors: %w", err)
	}
	return floors, nil
}

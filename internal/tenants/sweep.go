package tenants

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pnonboard/pnonboard/internal/postgres"
)

// The drift sweep (internal/provisioner) reads PubNub's listings a page at a time and hands
// each page here: these functions compare it with what the tenants hold, mark what was seen,
// and name the suspects, tenants whose listing entries differ. A suspect gets a check of its
// own (RequestChecks), which reads it back in full and records its drift; the sweep itself
// records nothing on a tenant but that it was seen. Only tenants at rest since the sweep
// began (active or disabled, unchanged since, no check pending) are compared: one that
// changed meanwhile may differ from a listing read before the change.

// SeenApp, SeenKeyset and SeenCustomer are listing entries.
type SeenApp struct{ ID, Name string }

// SeenKeyset is a keyset as the keysets listing shows it.
type SeenKeyset struct{ ID, Name, AppID string }

// SeenCustomer is a customer as the (unpaginated) customers listing shows it.
type SeenCustomer struct {
	ID, ExternalID, Name string
	KeysetCount          int
}

const atRest = `t.state IN ('active', 'disabled') AND t.updated_at < $1 AND t.check_requested IS NULL`

// SuspectApps marks the tenants holding apps as seen in run, and returns those whose app
// is not named as pnonboard named it.
func SuspectApps(ctx context.Context, tx pgx.Tx, run int64, since time.Time, apps []SeenApp) ([]int64, error) {
	ids, names := make([]string, len(apps)), make([]string, len(apps))
	for i, a := range apps {
		ids[i], names[i] = a.ID, a.Name
	}
	rows, err := tx.Query(ctx, `
		UPDATE tenants t SET app_seen_run = $2
		FROM unnest($3::text[], $4::text[]) AS a(id, name)
		WHERE t.app_id = a.id AND `+atRest+`
		RETURNING t.id, t.external_id, a.name, t.app_rename_pending`, since, run, ids, names)
	if err != nil {
		return nil, fmt.Errorf("compare apps: %w", err)
	}
	return collectSuspects(rows, func(externalID, name string, renamePending bool) bool {
		return name != AppName(externalID) && !renamePending
	})
}

// SuspectKeysets marks the keysets listed as seen in run, and returns the tenants whose
// keyset is named otherwise or sits in another app.
func SuspectKeysets(ctx context.Context, tx pgx.Tx, run int64, since time.Time, keysets []SeenKeyset) ([]int64, error) {
	ids, names, apps := make([]string, len(keysets)), make([]string, len(keysets)), make([]string, len(keysets))
	for i, k := range keysets {
		ids[i], names[i], apps[i] = k.ID, k.Name, k.AppID
	}
	rows, err := tx.Query(ctx, `
		UPDATE tenant_keysets k SET seen_run = $2
		FROM unnest($3::text[], $4::text[], $5::text[]) AS s(id, name, app_id), tenants t
		WHERE k.keyset_id = s.id AND t.id = k.tenant_id AND `+atRest+`
		RETURNING t.id, (s.name = k.upstream_name OR k.rename_pending) AND s.app_id = t.app_id`, since, run, ids, names, apps)
	if err != nil {
		return nil, fmt.Errorf("compare keysets: %w", err)
	}
	return collectFlagged(rows)
}

// SuspectCustomers compares the whole customers listing with every tenant at rest holding a
// customer: one missing, named otherwise (than it was last named), with another externalId,
// or holding another number of keysets than the tenant has assigned is a suspect.
func SuspectCustomers(ctx context.Context, tx pgx.Tx, run int64, since time.Time, customers []SeenCustomer) ([]int64, error) {
	n := len(customers)
	ids, exts, names, counts := make([]string, n), make([]string, n), make([]string, n), make([]int32, n)
	for i, c := range customers {
		ids[i], exts[i], names[i], counts[i] = c.ID, c.ExternalID, c.Name, int32(c.KeysetCount)
	}
	rows, err := tx.Query(ctx, `
		WITH seen AS (
			UPDATE tenants t SET customer_seen_run = $2
			FROM unnest($3::text[], $4::text[], $5::text[], $6::int[]) AS c(id, external_id, name, keysets)
			WHERE t.customer_id = c.id AND `+atRest+`
			RETURNING t.id, t.external_id = c.external_id AND (c.name = t.customer_name OR t.customer_name IS DISTINCT FROM t.name)
				AND c.keysets = (SELECT count(*) FROM tenant_keysets k WHERE k.tenant_id = t.id AND k.keyset_id IS NOT NULL AND k.assigned) AS ok
		)
		SELECT id, ok FROM seen`, since, run, ids, exts, names, counts)
	if err != nil {
		return nil, fmt.Errorf("compare customers: %w", err)
	}
	return collectFlagged(rows)
}

// SuspectUnseen returns the tenants at rest whose app, customer or a keyset no listing of
// run showed: gone, or (a listing shifted while it was read) missed; their check tells.
func SuspectUnseen(ctx context.Context, db postgres.DBTX, run int64, since time.Time) ([]int64, error) {
	rows, err := db.Query(ctx, `
		SELECT t.id FROM tenants t
		WHERE `+atRest+` AND (
			(t.app_id IS NOT NULL AND t.app_seen_run < $2)
			OR (t.customer_id IS NOT NULL AND t.customer_seen_run < $2)
			OR EXISTS (SELECT 1 FROM tenant_keysets k WHERE k.tenant_id = t.id AND k.keyset_id IS NOT NULL AND k.seen_run < $2)
			OR t.drift <> '[]')
		ORDER BY t.id`, since, run)
	if err != nil {
		return nil, fmt.Errorf("list unseen: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list unseen: %w", err)
	}
	return ids, nil
}

// KeysetRef names one keyset of one tenant.
type KeysetRef struct {
	TenantID    int64
	Environment string
	KeysetID    string
}

// lockedUnread holds for a keyset k of tenant t that must be locked (tenant disabled or
// environment retired) and is, and whose configuration was not read since $1.
const lockedUnread = `k.keyset_id IS NOT NULL AND k.access_locked
	AND (t.desired_state = 'disabled' OR k.retired_at IS NOT NULL)
	AND (k.config_checked_at IS NULL OR k.config_checked_at < $1)`

// LockedToRead returns up to limit keysets of tenants at rest that must be locked (tenant
// disabled or environment retired), whose configuration was read longest ago and not since
// since: the listings do not show Access Manager, so the sweep reads a few configs a run.
func LockedToRead(ctx context.Context, db postgres.DBTX, since time.Time, limit int) ([]KeysetRef, error) {
	rows, err := db.Query(ctx, `
		SELECT k.tenant_id, k.environment, k.keyset_id FROM tenant_keysets k JOIN tenants t ON t.id = k.tenant_id
		WHERE `+atRest+` AND `+lockedUnread+`
		ORDER BY k.config_checked_at NULLS FIRST, k.tenant_id, k.position LIMIT $2`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("list locked keysets: %w", err)
	}
	refs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[KeysetRef])
	if err != nil {
		return nil, fmt.Errorf("list locked keysets: %w", err)
	}
	return refs, nil
}

// MarkConfigRead records that ref's configuration was read at at.
func MarkConfigRead(ctx context.Context, db postgres.DBTX, ref KeysetRef, at time.Time) error {
	_, err := db.Exec(ctx, `UPDATE tenant_keysets SET config_checked_at = $3 WHERE tenant_id = $1 AND environment = $2`,
		ref.TenantID, ref.Environment, at)
	if err != nil {
		return fmt.Errorf("mark config read: %w", err)
	}
	return nil
}

// RequestChecks asks a check of each tenant still at rest, by by, and enqueues its job. It
// returns how many it asked.
func RequestChecks(ctx context.Context, tx pgx.Tx, enq Enqueuer, since time.Time, ids []int64, by CheckRequest) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	rows, err := tx.Query(ctx, `
		UPDATE tenants t SET check_requested = $3 WHERE t.id = ANY($2) AND `+atRest+` RETURNING t.id`, since, ids, by)
	if err != nil {
		return 0, fmt.Errorf("request checks: %w", err)
	}
	asked, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("request checks: %w", err)
	}
	for _, id := range asked {
		if err := enq.EnqueueReconcile(ctx, tx, id); err != nil {
			return 0, err
		}
	}
	return len(asked), nil
}

// MarkSwept records, at at, that every tenant at rest and not suspected (no check pending)
// was found in sync by the listings of the sweep begun at since: a confirmation that what it
// holds is its own. Its last check is stamped only when every check of it was done, that is
// when the configuration of each of its locked keysets was read too (since since); one left
// for a later sweep keeps its last check time. It returns how many were confirmed and how
// many of them checked.
func MarkSwept(ctx context.Context, db postgres.DBTX, since, at time.Time) (confirmed, checked int, err error) {
	rows, err := db.Query(ctx, `
		WITH swept AS (
			SELECT t.id, NOT EXISTS (SELECT 1 FROM tenant_keysets k WHERE k.tenant_id = t.id AND `+lockedUnread+`) AS whole
			FROM tenants t
			WHERE `+atRest+` AND t.drift = '[]' AND (t.app_id IS NOT NULL OR t.customer_id IS NOT NULL)
		)
		UPDATE tenants t SET verified_at = $2, last_checked_at = CASE WHEN s.whole THEN $2 ELSE t.last_checked_at END
		FROM swept s WHERE t.id = s.id
		RETURNING s.whole`, since, at)
	if err != nil {
		return 0, 0, fmt.Errorf("mark swept: %w", err)
	}
	wholes, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return 0, 0, fmt.Errorf("mark swept: %w", err)
	}
	for _, whole := range wholes {
		if whole {
			checked++
		}
	}
	return len(wholes), checked, nil
}

// CountHolding counts the tenants holding something upstream (an app or a customer): what
// the drift sweep's call goal scales with.
func CountHolding(ctx context.Context, db postgres.DBTX) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM tenants WHERE app_id IS NOT NULL OR customer_id IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tenants holding resources: %w", err)
	}
	return n, nil
}

// CountDrift counts the tenants with drift of each kind; every kind is present.
func CountDrift(ctx context.Context, db postgres.DBTX) (map[DriftKind]int, error) {
	counts := map[DriftKind]int{}
	for _, k := range DriftKinds() {
		counts[k] = 0
	}
	rows, err := db.Query(ctx, `
		SELECT d->>'kind', count(DISTINCT t.id) FROM tenants t, jsonb_array_elements(t.drift) d
		WHERE t.drift <> '[]' GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("count drift: %w", err)
	}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var k DriftKind
		var n int
		err := row.Scan(&k, &n)
		counts[k] = n
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("count drift: %w", err)
	}
	return counts, nil
}

func collectFlagged(rows pgx.Rows) ([]int64, error) {
	var suspects []int64
	_, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var id int64
		var ok bool
		err := row.Scan(&id, &ok)
		if !ok {
			suspects = append(suspects, id)
		}
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("compare listing: %w", err)
	}
	return suspects, nil
}

func collectSuspects(rows pgx.Rows, differs func(externalID, name string, renamePending bool) bool) ([]int64, error) {
	var suspects []int64
	_, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var id int64
		var externalID, name string
		var renamePending bool
		err := row.Scan(&id, &externalID, &name, &renamePending)
		if err == nil && differs(externalID, name, renamePending) {
			suspects = append(suspects, id)
		}
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("compare listing: %w", err)
	}
	return suspects, nil
}

// Imported is a tenant already provisioned upstream, as ImportProvisioned records it.
type Imported struct {
	ExternalID, Name, AppID, CustomerID string
	Keysets                             []ImportedKeyset
	CreatedAt                           time.Time // when it signed up (zero: now)
	// Disabled records the tenant disabled, its keysets locked (Access Manager on upstream,
	// secret rotated once: the caller makes upstream match).
	Disabled bool
}

// ImportedKeyset is one of an Imported tenant's keysets.
type ImportedKeyset struct {
	Environment, Type, KeysetID, PublishKey, SubscribeKey string
	SecretKeySealed                                       func(tenantID int64) []byte
}

// ImportProvisioned records tenants whose resources already exist upstream as active,
// provisioned and confirmed now, with no job: how the drift benchmark fills a database to
// match a pre-filled sandbox. The tables are analyzed after, as after any bulk load. It
// returns the tenants' IDs, in order.
func ImportProvisioned(ctx context.Context, db postgres.DB, list []Imported) ([]int64, error) {
	ids := make([]int64, 0, len(list))
	err := postgres.WithTx(ctx, db, func(ctx context.Context, tx pgx.Tx) error {
		for _, im := range list {
			envs := make([]string, len(im.Keysets))
			for i, k := range im.Keysets {
				envs[i] = k.Environment
			}
			var id int64
			var signedUp *time.Time
			if !im.CreatedAt.IsZero() {
				signedUp = &im.CreatedAt
			}
			state, desired, generation := StateActive, DesiredActive, 0
			if im.Disabled {
				state, desired, generation = StateDisabled, DesiredDisabled, 1
			}
			if err := tx.QueryRow(ctx, `
				INSERT INTO tenants (external_id, name, environments, metadata, state, desired_state, app_id, customer_id,
					customer_name, verified_at, provisioned_at, created_at, lock_generation, disabled_at)
				VALUES ($1, $2, $3, '{}', $7, $8, $4, $5, $2, now(), coalesce($6, now()), coalesce($6, now()), $9,
					CASE WHEN $9 > 0 THEN now() END)
				RETURNING id`,
				im.ExternalID, im.Name, envs, im.AppID, im.CustomerID, signedUp, state, desired, generation).Scan(&id); err != nil {
				return fmt.Errorf("import tenant %q: %w", im.ExternalID, err)
			}
			ids = append(ids, id)
			for i, k := range im.Keysets {
				var sealed []byte
				if k.SecretKeySealed != nil {
					sealed = k.SecretKeySealed(id)
				}
				if _, err := tx.Exec(ctx, `
					INSERT INTO tenant_keysets (tenant_id, environment, position, upstream_name, keyset_type, keyset_id,
						publish_key, subscribe_key, secret_key_sealed, assigned, access_locked, rotate_for, rotated_for)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, true, $10 > 0, $10, $10)`,
					id, k.Environment, i, KeysetName(im.ExternalID, k.Environment), k.Type, k.KeysetID, k.PublishKey,
					k.SubscribeKey, sealed, generation); err != nil {
					return fmt.Errorf("import keyset of %q: %w", im.ExternalID, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(ctx, `ANALYZE tenants, tenant_keysets`); err != nil {
		return nil, fmt.Errorf("analyze after import: %w", err)
	}
	return ids, nil
}

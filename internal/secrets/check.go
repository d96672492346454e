package secrets

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what CheckKeyring reads through; *pgxpool.Pool, *pgx.Conn and pgx.Tx satisfy it.
type DB interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// KeyringError is CheckKeyring's verdict that the configured keys cannot open what the
// database holds. Its message is one line, naming the settings to fix.
type KeyringError struct {
	// What names the secret tried, e.g. "the secret key of tenant 42's production keyset".
	What string
}

func (e *KeyringError) Error() string {
	return "PNONBOARD_ENCRYPTION_KEY (with PNONBOARD_ENCRYPTION_KEYS_PREVIOUS) cannot decrypt " + e.What +
		": set the key the data was sealed with (after a rotation, keep the old key in PNONBOARD_ENCRYPTION_KEYS_PREVIOUS)"
}

// CheckKeyring proves at start-up that keyring opens what is stored, so a wrong
// PNONBOARD_ENCRYPTION_KEY stops the service at once instead of failing requests one by one. It
// opens the most recently written sealed secret of each kind: a keyset secret key
// (tenant_keysets) and a webhook signing secret (webhook_endpoints). Returns nil when nothing
// is stored yet (or the tables do not exist yet), a *KeyringError when a secret does not open,
// or the database's error.
func CheckKeyring(ctx context.Context, db DB, keyring *Keyring) error {
	var (
		tenantID    int64
		environment string
		sealed      []byte
	)
	err := db.QueryRow(ctx, `
		SELECT tenant_id, environment, secret_key_sealed FROM tenant_keysets
		WHERE secret_key_sealed IS NOT NULL ORDER BY updated_at DESC LIMIT 1`).Scan(&tenantID, &environment, &sealed)
	switch {
	case err == nil:
		// The AAD of tenants.SecretAAD; a test holds the two together.
		aad := []byte("keyset-secret:" + strconv.FormatInt(tenantID, 10) + ":" + environment)
		if _, err := keyring.Open(sealed, aad); err != nil {
			return &KeyringError{What: fmt.Sprintf("the secret key of tenant %d's %s keyset", tenantID, environment)}
		}
	case !nothingStored(err):
		return fmt.Errorf("check encryption key: read a keyset secret: %w", err)
	}

	var endpointID string
	err = db.QueryRow(ctx, `
		SELECT id::text, secret_sealed FROM webhook_endpoints ORDER BY updated_at DESC LIMIT 1`).Scan(&endpointID, &sealed)
	switch {
	case err == nil:
		// The AAD of the webhooks package's secretAAD; a test holds the two together.
		if _, err := keyring.Open(sealed, []byte("webhook-secret:"+endpointID)); err != nil {
			return &KeyringError{What: "the signing secret of webhook endpoint " + endpointID}
		}
	case !nothingStored(err):
		return fmt.Errorf("check encryption key: read a webhook secret: %w", err)
	}
	return nil
}

// nothingStored reports whether err means there is no row to check: none yet, or no table.
func nothingStored(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, pgx.ErrNoRows) || errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

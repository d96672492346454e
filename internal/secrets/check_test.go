package secrets_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
	"github.com/pnonboard/pnonboard/internal/webhooks"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

func TestCheckKeyring(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type testBundle struct {
		db           *pgtest.DB
		right, wrong *secrets.Keyring
		rotated      *secrets.Keyring // a new primary, with the right key as previous
		old, newKey  []byte
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		b := &testBundle{db: pgtest.NewDB(t), old: mustKey(t), newKey: mustKey(t)}
		var err error
		b.right, err = secrets.NewKeyring(b.old)
		require.NoError(t, err)
		b.wrong, err = secrets.NewKeyring(mustKey(t))
		require.NoError(t, err)
		b.rotated, err = secrets.NewKeyring(b.newKey, b.old)
		require.NoError(t, err)
		return b
	}
	// storeKeysetSecret writes a keyset secret key as the provisioner does.
	storeKeysetSecret := func(t *testing.T, b *testBundle, keyring *secrets.Keyring) {
		t.Helper()
		var id int64
		require.NoError(t, b.db.Pool.QueryRow(ctx, `
			INSERT INTO tenants (external_id, name, environments, state, desired_state)
			VALUES ('acme', 'Acme', '{production}', 'active', 'active') RETURNING id`).Scan(&id))
		_, err := b.db.Pool.Exec(ctx, `
			INSERT INTO tenant_keysets (tenant_id, environment, position, upstream_name, keyset_type, keyset_id, secret_key_sealed)
			VALUES ($1, 'production', 0, 'pnonboard-acme-production', 'production', '77', $2)`,
			id, keyring.Seal([]byte("sec-c-x"), tenants.SecretAAD(id, "production")))
		require.NoError(t, err)
	}
	// storeWebhookSecret registers an endpoint through the webhooks service itself.
	storeWebhookSecret := func(t *testing.T, b *testBundle, keyring *secrets.Keyring) {
		t.Helper()
		url := "https://hooks.example.com/x"
		_, _, err := webhooks.NewService(webhooks.Options{Pool: b.db.Pool, Keyring: keyring}).CreateEndpoint(ctx, webhooks.EndpointParams{URL: &url})
		require.NoError(t, err)
	}
	requireRefused := func(t *testing.T, err error, what string) {
		t.Helper()
		var ke *secrets.KeyringError
		require.ErrorAs(t, err, &ke)
		require.Contains(t, err.Error(), "PNONBOARD_ENCRYPTION_KEY")
		require.Contains(t, err.Error(), "PNONBOARD_ENCRYPTION_KEYS_PREVIOUS")
		require.Contains(t, err.Error(), what)
		require.NotContains(t, err.Error(), "\n")
	}

	t.Run("NothingStored", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		require.NoError(t, secrets.CheckKeyring(ctx, b.db.Pool, b.wrong))
	})

	t.Run("KeysetSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		storeKeysetSecret(t, b, b.right)
		require.NoError(t, secrets.CheckKeyring(ctx, b.db.Pool, b.right))
		require.NoError(t, secrets.CheckKeyring(ctx, b.db.Pool, b.rotated), "the previous key still opens it")
		requireRefused(t, secrets.CheckKeyring(ctx, b.db.Pool, b.wrong), "production keyset")
	})

	t.Run("WebhookSecret", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		storeWebhookSecret(t, b, b.right)
		require.NoError(t, secrets.CheckKeyring(ctx, b.db.Pool, b.right))
		require.NoError(t, secrets.CheckKeyring(ctx, b.db.Pool, b.rotated))
		requireRefused(t, secrets.CheckKeyring(ctx, b.db.Pool, b.wrong), "webhook endpoint")
	})

	t.Run("BothKindsAreChecked", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		storeKeysetSecret(t, b, b.right)
		storeWebhookSecret(t, b, b.wrong) // as if the key changed between the two
		requireRefused(t, secrets.CheckKeyring(ctx, b.db.Pool, b.right), "webhook endpoint")
		requireRefused(t, secrets.CheckKeyring(ctx, b.db.Pool, b.wrong), "production keyset")
	})

	t.Run("DatabaseErrorsAreNotVerdicts", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		b.db.Pool.Close()
		err := secrets.CheckKeyring(ctx, b.db.Pool, b.right)
		require.Error(t, err)
		var ke *secrets.KeyringError
		require.False(t, errors.As(err, &ke))
	})
}

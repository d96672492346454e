package secrets_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/secrets"
)

func TestCheckKeyring(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old, newKey, other := mustKey(t), mustKey(t), mustKey(t)
	right, err := secrets.NewKeyring(old)
	require.NoError(t, err)
	wrong, err := secrets.NewKeyring(other)
	require.NoError(t, err)
	rotated, err := secrets.NewKeyring(newKey, old) // a new primary, the right key as previous
	require.NoError(t, err)
	sealedBy := func(k *secrets.Keyring, what string) secrets.SampleFunc {
		aad := []byte("aad:" + what)
		s := secrets.Sample{What: what, Sealed: k.Seal([]byte("sec-c-x"), aad), AAD: aad}
		return func(context.Context) (secrets.Sample, bool, error) { return s, true, nil }
	}
	none := func(context.Context) (secrets.Sample, bool, error) { return secrets.Sample{}, false, nil }
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
		require.NoError(t, secrets.CheckKeyring(ctx, wrong, none, none))
	})

	t.Run("OpensWithTheKeyOrAPreviousOne", func(t *testing.T) {
		t.Parallel()
		keyset := sealedBy(right, "the production keyset")
		require.NoError(t, secrets.CheckKeyring(ctx, right, keyset))
		require.NoError(t, secrets.CheckKeyring(ctx, rotated, keyset), "the previous key still opens it")
		requireRefused(t, secrets.CheckKeyring(ctx, wrong, keyset), "production keyset")
	})

	t.Run("EveryKindIsChecked", func(t *testing.T) {
		t.Parallel()
		keyset, hook := sealedBy(right, "the production keyset"), sealedBy(wrong, "webhook endpoint e1")
		requireRefused(t, secrets.CheckKeyring(ctx, right, keyset, hook), "webhook endpoint")
		requireRefused(t, secrets.CheckKeyring(ctx, wrong, keyset, hook), "production keyset")
	})

	t.Run("ReadErrorsAreNotVerdicts", func(t *testing.T) {
		t.Parallel()
		broken := func(context.Context) (secrets.Sample, bool, error) {
			return secrets.Sample{}, false, errors.New("database gone")
		}
		err := secrets.CheckKeyring(ctx, right, broken)
		require.Error(t, err)
		var ke *secrets.KeyringError
		require.False(t, errors.As(err, &ke))
	})
}

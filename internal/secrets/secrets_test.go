package secrets_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/secrets"
)

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := secrets.ParseKey(secrets.NewKey())
	require.NoError(t, err)
	return k
}

func TestKeyring(t *testing.T) {
	t.Parallel()
	aad := []byte("keyset-secret:tenant/1/production")

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		ring, err := secrets.NewKeyring(mustKey(t))
		require.NoError(t, err)
		sealed := ring.Seal([]byte("sec-c-abc"), aad)
		require.False(t, bytes.Contains(sealed, []byte("sec-c-abc")))
		got, err := ring.Open(sealed, aad)
		require.NoError(t, err)
		require.Equal(t, "sec-c-abc", string(got))
		require.NotEqual(t, sealed, ring.Seal([]byte("sec-c-abc"), aad), "nonces differ")
	})

	t.Run("RefusesTamperingAndWrongContext", func(t *testing.T) {
		t.Parallel()
		ring, err := secrets.NewKeyring(mustKey(t))
		require.NoError(t, err)
		sealed := ring.Seal([]byte("sec-c-abc"), aad)
		for i := range sealed {
			bad := bytes.Clone(sealed)
			bad[i] ^= 0x01
			_, err := ring.Open(bad, aad)
			require.ErrorIs(t, err, secrets.ErrDecrypt, "byte %d", i)
		}
		_, err = ring.Open(sealed, []byte("keyset-secret:tenant/2/production"))
		require.ErrorIs(t, err, secrets.ErrDecrypt)
		_, err = ring.Open(sealed[:10], aad)
		require.ErrorIs(t, err, secrets.ErrDecrypt)
		other, err := secrets.NewKeyring(mustKey(t))
		require.NoError(t, err)
		_, err = other.Open(sealed, aad)
		require.ErrorIs(t, err, secrets.ErrDecrypt)
	})

	t.Run("Rotation", func(t *testing.T) {
		t.Parallel()
		oldKey, newKey := mustKey(t), mustKey(t)
		oldRing, err := secrets.NewKeyring(oldKey)
		require.NoError(t, err)
		sealedOld := oldRing.Seal([]byte("v"), aad)

		ring, err := secrets.NewKeyring(newKey, oldKey)
		require.NoError(t, err)
		got, err := ring.Open(sealedOld, aad)
		require.NoError(t, err)
		require.Equal(t, "v", string(got))
		require.True(t, ring.NeedsReseal(sealedOld))
		require.False(t, ring.NeedsReseal(ring.Seal([]byte("v"), aad)))
	})

	t.Run("BadKeys", func(t *testing.T) {
		t.Parallel()
		_, err := secrets.NewKeyring(make([]byte, 16))
		require.ErrorContains(t, err, "want 32")
		_, err = secrets.ParseKey("not base64!")
		require.ErrorContains(t, err, "not base64")
		_, err = secrets.ParseKey("c2hvcnQ=")
		require.ErrorContains(t, err, "want 32")
	})
}

package pubnub_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub"
)

func TestSecretKeys(t *testing.T) {
	t.Parallel()

	type testBundle struct {
		*upstream
		keysetID string
		original pubnub.Secret
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		up := startSandbox(t, nil)
		ks := sandboxKeyset(t, up)
		return &testBundle{upstream: up, keysetID: ks.Keyset.ID, original: ks.SecretKeys[0].SecretKey}
	}

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		keys, err := b.client.ListSecretKeys(t.Context(), b.keysetID, true)

		require.NoError(t, err)
		require.Equal(t, []pubnub.SecretKey{{SecretKey: b.original}}, keys)
		require.Equal(t, "activeOnly=true", b.requests.last().Query)
	})

	t.Run("RotateImmediately", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		fresh, err := b.client.RotateSecretKey(t.Context(), b.keysetID, nil)
		require.NoError(t, err)
		keys, err := b.client.ListSecretKeys(t.Context(), b.keysetID, false)
		require.NoError(t, err)

		require.NotEqual(t, b.original, fresh)
		require.Equal(t, []pubnub.SecretKey{{SecretKey: fresh}}, keys)
		require.Equal(t, fresh.Reveal(), b.sb.Keysets()[0].SecretKeys[0].Value)
	})

	t.Run("RotateWithExpiry", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		// A local time with nanoseconds: the client must send UTC milliseconds.
		expiresAt := b.clock.Now().Add(2*time.Hour + 123456789).In(time.FixedZone("CET", 3600))

		fresh, err := b.client.RotateSecretKey(t.Context(), b.keysetID, &expiresAt)
		require.NoError(t, err)
		keys, err := b.client.ListSecretKeys(t.Context(), b.keysetID, false)
		require.NoError(t, err)

		sent := expiresAt.UTC().Truncate(time.Millisecond)
		require.JSONEq(t, `{"expiresAt":"`+sent.Format("2006-01-02T15:04:05.000Z")+`"}`, b.requests.all()[len(b.requests.all())-2].Body)
		require.Len(t, keys, 2)
		require.Equal(t, b.original, keys[0].SecretKey)
		require.True(t, sent.Equal(*keys[0].ExpiresAt))
		require.Equal(t, pubnub.SecretKey{SecretKey: fresh}, keys[1])
	})

	t.Run("RotateExpiryTooSoon", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		expiresAt := b.clock.Now().Add(30 * time.Second)

		_, err := b.client.RotateSecretKey(t.Context(), b.keysetID, &expiresAt)

		require.True(t, pubnub.IsPermanent(err))
	})

	t.Run("UnknownKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		_, err := b.client.ListSecretKeys(t.Context(), "5000999", false)

		require.True(t, pubnub.IsNotFound(err))
	})

	t.Run("OldVersionRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		client := pubnub.New(b.srv.URL+"/v2", testKey, "2025-10-31", b.srv.Client())

		_, err := client.ListSecretKeys(t.Context(), b.keysetID, false)

		require.True(t, pubnub.IsPermanent(err))
		require.Contains(t, err.Error(), "the minimum version is 2025-11-01")
	})
}

func TestSecretRedaction(t *testing.T) {
	t.Parallel()

	const value = "sec-c-MDAwMTIzNDU2Nzg5YWJjZGVm"
	s := pubnub.Secret(value)
	key := pubnub.SecretKey{SecretKey: s}

	var logged bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("rotated", "secret", s, "key", key)
	encoded, err := json.Marshal(key)
	require.NoError(t, err)

	for _, out := range []string{
		s.String(), s.GoString(),
		fmt.Sprintf("%v %+v %#v %s %q %x %X %d %10s", s, s, s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", key, key, key),
		fmt.Sprint([]pubnub.SecretKey{key}),
		logged.String(),
		string(encoded),
	} {
		require.NotContains(t, out, "MDAw", out)
		require.NotContains(t, out, fmt.Sprintf("%x", value), out)
	}
	require.Equal(t, "sec-c-…(redacted)", s.String())
	require.Equal(t, "…(redacted)", pubnub.Secret("other").String())
	require.Empty(t, pubnub.Secret("").String())
	require.Equal(t, value, s.Reveal())

	var decoded struct {
		S pubnub.Secret `json:"s"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"s":"`+value+`"}`), &decoded))
	require.Equal(t, value, decoded.S.Reveal())
}

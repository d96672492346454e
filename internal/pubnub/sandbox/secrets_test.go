package sandbox_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/pubnub/sandbox"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

func TestSecretKeys(t *testing.T) {
	t.Parallel()

	type secretKeys struct {
		SecretKeys []secretKeyJSON `json:"secretKeys"`
	}
	type rotated struct {
		SecretKey string `json:"secretKey"`
	}
	type testBundle struct {
		sb       *sandbox.Sandbox
		clock    *testclock.Clock
		path     string // the keyset's secret-keys path
		original string // the secret key returned at create
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		sb, clock := newSandbox(t, nil)
		ks := createKeyset(t, sb, createApp(t, sb, "app").ID, nil)
		return &testBundle{sb: sb, clock: clock, path: "/v2/keysets/" + ks.Keyset.ID + "/secret-keys", original: ks.Keyset.SecretKeys[0].SecretKey}
	}
	list := func(t *testing.T, b *testBundle, query string) []secretKeyJSON {
		t.Helper()
		return decode[secretKeys](t, do(t, b.sb, http.MethodGet, b.path+query, nil), http.StatusOK).SecretKeys
	}
	rotate := func(t *testing.T, b *testBundle, body any) string {
		t.Helper()
		return decode[rotated](t, do(t, b.sb, http.MethodPost, b.path, body), http.StatusCreated).SecretKey
	}
	expiry := func(b *testBundle, d time.Duration) string {
		return b.clock.Now().Add(d).UTC().Format("2006-01-02T15:04:05.000Z")
	}

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		require.Equal(t, []secretKeyJSON{{SecretKey: b.original}}, list(t, b, ""))
		require.Equal(t, []secretKeyJSON{{SecretKey: b.original}}, list(t, b, "?activeOnly=true"))
	})

	t.Run("ListBadActiveOnly", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		requireError(t, do(t, b.sb, http.MethodGet, b.path+"?activeOnly=yes", nil), http.StatusBadRequest, "activeOnly must be a boolean value")
	})

	t.Run("ImmediateRotationInvalidatesOldKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		fresh := rotate(t, b, nil)

		require.Regexp(t, "^sec-c-", fresh)
		require.NotEqual(t, b.original, fresh)
		require.Equal(t, []secretKeyJSON{{SecretKey: fresh}}, list(t, b, "?activeOnly=false"))
		require.Equal(t, []sandbox.SecretKey{{Value: fresh}}, b.sb.Keysets()[0].SecretKeys)
	})

	t.Run("RotationWithExpiryKeepsOldKeyUntilThen", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		expiresAt := expiry(b, time.Hour)

		fresh := rotate(t, b, map[string]any{"expiresAt": expiresAt})

		require.Equal(t, []secretKeyJSON{{SecretKey: b.original, ExpiresAt: &expiresAt}, {SecretKey: fresh}}, list(t, b, ""))
		b.clock.Advance(time.Hour)
		require.Equal(t, []secretKeyJSON{{SecretKey: fresh}}, list(t, b, "?activeOnly=true"), "expired keys are not active")
		require.Len(t, list(t, b, "?activeOnly=false"), 2, "expired keys are still listed")
	})

	t.Run("ExpiryWithoutMilliseconds", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		rotate(t, b, map[string]any{"expiresAt": b.clock.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05Z")})
	})

	t.Run("ExpiryValidation", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name      string
			expiresAt func(b *testBundle) string
			message   string
		}{
			{"TooSoon", func(b *testBundle) string { return expiry(b, 59*time.Second) }, "expiresAt must be at least 60 seconds and at most 366 days in the future"},
			{"InThePast", func(b *testBundle) string { return expiry(b, -time.Hour) }, "expiresAt must be at least 60 seconds and at most 366 days in the future"},
			{"TooLate", func(b *testBundle) string { return expiry(b, 367*24*time.Hour) }, "expiresAt must be at least 60 seconds and at most 366 days in the future"},
			{"NotUTC", func(b *testBundle) string { return b.clock.Now().Add(time.Hour).Format("2006-01-02T15:04:05+00:00") }, `expiresAt must match /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/`},
			{"Nanoseconds", func(b *testBundle) string { return b.clock.Now().Add(time.Hour + 123456789).Format(time.RFC3339Nano) }, `expiresAt must match /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/`},
			{"DateOnly", func(b *testBundle) string { return "2026-12-31" }, `expiresAt must match /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/`},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t)

				res := do(t, b.sb, http.MethodPost, b.path, map[string]any{"expiresAt": tt.expiresAt(b)})

				requireError(t, res, http.StatusBadRequest, tt.message)
				require.Equal(t, []sandbox.SecretKey{{Value: b.original}}, b.sb.Keysets()[0].SecretKeys)
			})
		}
	})

	t.Run("AtMostFiveRotatedKeys", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for range 5 {
			rotate(t, b, map[string]any{"expiresAt": expiry(b, time.Hour)})
		}
		before := b.sb.Keysets()[0].SecretKeys
		require.Len(t, before, 6)

		res := do(t, b.sb, http.MethodPost, b.path, map[string]any{"expiresAt": expiry(b, time.Hour)})

		requireError(t, res, http.StatusBadRequest, "A keyset can have at most 5 rotated secret keys; delete one first")
		require.Equal(t, before, b.sb.Keysets()[0].SecretKeys)
		rotate(t, b, nil) // an immediate rotation adds no rotated key
	})

	t.Run("UnknownKeyset", func(t *testing.T) {
		t.Parallel()
		b := setup(t)

		requireError(t, do(t, b.sb, http.MethodGet, "/v2/keysets/5000999/secret-keys", nil), http.StatusNotFound)
		requireError(t, do(t, b.sb, http.MethodPost, "/v2/keysets/5000999/secret-keys", nil), http.StatusNotFound)
	})
}

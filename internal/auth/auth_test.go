package auth_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/auth"
	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/pgtest"
	"github.com/pnonboard/pnonboard/internal/testclock"
)

func TestMain(m *testing.M) { pgtest.Main(m, os.Getenv) }

func TestService(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	type testBundle struct {
		db    *pgtest.DB
		svc   *auth.Service
		clock *testclock.Clock
	}
	setup := func(t *testing.T) *testBundle {
		t.Helper()
		db := pgtest.NewDB(t)
		c := testclock.New(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
		return &testBundle{db: db, svc: auth.NewService(db.Pool, c.Now), clock: c}
	}
	create := func(t *testing.T, b *testBundle, p auth.CreateParams) (*auth.Key, string) {
		t.Helper()
		if p.Name == "" {
			p.Name = "partner backend"
		}
		if p.Scopes == nil {
			p.Scopes = []auth.Scope{auth.ScopeTenantsRead}
		}
		key, plaintext, err := b.svc.Create(ctx, p)
		require.NoError(t, err)
		return key, plaintext
	}

	t.Run("CreateThenAuthenticate", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		key, plaintext := create(t, b, auth.CreateParams{Scopes: []auth.Scope{auth.ScopeTenantsWrite, auth.ScopeTenantsRead}, CreatedBy: auth.SystemActor("cli")})
		require.True(t, strings.HasPrefix(plaintext, key.Prefix+"_"))
		require.True(t, strings.HasPrefix(key.Prefix, "pno_"))
		require.Len(t, key.Prefix, 12)
		require.Equal(t, b.clock.Now().Add(auth.MaxKeyExpiry), key.ExpiresAt, "default expiry is one year")
		require.Equal(t, "cli", key.CreatedBy)

		got, err := b.svc.Authenticate(ctx, plaintext)
		require.NoError(t, err)
		require.Equal(t, key.ID, got.ID)
		require.Equal(t, []auth.Scope{auth.ScopeTenantsRead, auth.ScopeTenantsWrite}, got.Scopes)
		require.True(t, got.Has(auth.ScopeTenantsWrite))
		require.False(t, got.Has(auth.ScopeAdmin))
	})

	t.Run("DatabaseHoldsNoPlaintext", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, plaintext := create(t, b, auth.CreateParams{})
		secret := plaintext[len("pno_abcdefgh_"):]
		var dump string
		require.NoError(t, b.db.Pool.QueryRow(ctx, `SELECT string_agg(t::text, ' ') FROM api_keys t`).Scan(&dump))
		require.NotContains(t, dump, secret)
		require.NotContains(t, dump, plaintext)
	})

	t.Run("RefusedWithoutSayingWhy", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, plaintext := create(t, b, auth.CreateParams{})
		wrongSecret := plaintext[:len(plaintext)-1] + map[bool]string{true: "A", false: "B"}[plaintext[len(plaintext)-1] != 'A']
		unknownPrefix := "pno_zzzzzzzz" + plaintext[12:]
		for name, token := range map[string]string{
			"Empty": "", "Garbage": "hello", "WrongSecret": wrongSecret, "UnknownPrefix": unknownPrefix,
			"Truncated": plaintext[:len(plaintext)-2], "Extended": plaintext + "x",
		} {
			_, err := b.svc.Authenticate(ctx, token)
			require.ErrorIs(t, err, auth.ErrUnauthenticated, name)
			require.Equal(t, "unauthenticated", err.Error(), name)
		}
	})

	t.Run("ExpiredKeyIsRefused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, plaintext := create(t, b, auth.CreateParams{ExpiresIn: time.Hour})
		_, err := b.svc.Authenticate(ctx, plaintext)
		require.NoError(t, err)
		b.clock.Advance(time.Hour)
		_, err = b.svc.Authenticate(ctx, plaintext)
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
	})

	t.Run("RevokedKeyIsRefusedAtOnce", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		key, plaintext := create(t, b, auth.CreateParams{})
		revoked, err := b.svc.Revoke(ctx, key.ID)
		require.NoError(t, err)
		require.NotNil(t, revoked.RevokedAt)
		_, err = b.svc.Authenticate(ctx, plaintext)
		require.ErrorIs(t, err, auth.ErrUnauthenticated)

		// Revoking again keeps the first revocation time.
		b.clock.Advance(time.Hour)
		again, err := b.svc.Revoke(ctx, key.ID)
		require.NoError(t, err)
		require.Equal(t, revoked.RevokedAt, again.RevokedAt)
	})

	t.Run("RevocationReachesOtherReplicasWithinTheCacheTTL", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		other := auth.NewService(b.db.Pool, b.clock.Now) // another replica
		key, plaintext := create(t, b, auth.CreateParams{})
		_, err := other.Authenticate(ctx, plaintext)
		require.NoError(t, err)

		_, err = b.svc.Revoke(ctx, key.ID)
		require.NoError(t, err)
		_, err = other.Authenticate(ctx, plaintext)
		require.NoError(t, err, "the other replica trusts its cache for up to CacheTTL")
		b.clock.Advance(auth.CacheTTL)
		_, err = other.Authenticate(ctx, plaintext)
		require.ErrorIs(t, err, auth.ErrUnauthenticated, "and then asks the database")
	})

	t.Run("CachedKeyStillExpiresOnTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, plaintext := create(t, b, auth.CreateParams{ExpiresIn: time.Hour})
		b.clock.Advance(time.Hour - time.Second)
		_, err := b.svc.Authenticate(ctx, plaintext)
		require.NoError(t, err)
		b.clock.Advance(time.Second)
		_, err = b.svc.Authenticate(ctx, plaintext)
		require.ErrorIs(t, err, auth.ErrUnauthenticated)
	})

	t.Run("RevokeUnknownIsNotFound", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		_, err := b.svc.Revoke(ctx, "3b241101-e2bb-4255-8caf-4136c566a962")
		require.ErrorIs(t, err, auth.ErrNotFound)
		_, err = b.svc.Revoke(ctx, "not-a-uuid")
		require.ErrorIs(t, err, auth.ErrNotFound)
	})

	t.Run("LastUsedIsThrottled", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		key, plaintext := create(t, b, auth.CreateParams{})
		lastUsed := func() *time.Time {
			keys, err := b.svc.List(ctx)
			require.NoError(t, err)
			for _, k := range keys {
				if k.ID == key.ID {
					return k.LastUsedAt
				}
			}
			t.Fatal("key not listed")
			return nil
		}
		require.Nil(t, lastUsed())
		_, err := b.svc.Authenticate(ctx, plaintext)
		require.NoError(t, err)
		first := lastUsed()
		require.NotNil(t, first)

		b.clock.Advance(30 * time.Second)
		_, err = b.svc.Authenticate(ctx, plaintext)
		require.NoError(t, err)
		require.Equal(t, first, lastUsed(), "a second use within a minute writes nothing")

		b.clock.Advance(31 * time.Second)
		_, err = b.svc.Authenticate(ctx, plaintext)
		require.NoError(t, err)
		require.Equal(t, b.clock.Now(), *lastUsed())
	})

	t.Run("InvalidParams", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for name, p := range map[string]auth.CreateParams{
			"name":      {Name: " ", Scopes: []auth.Scope{auth.ScopeAdmin}},
			"scopes":    {Name: "x"},
			"expiresIn": {Name: "x", Scopes: []auth.Scope{auth.ScopeAdmin}, ExpiresIn: auth.MaxKeyExpiry + time.Second},
		} {
			_, _, err := b.svc.Create(ctx, p)
			fields, ok := invalid.FieldsOf(err)
			require.True(t, ok, "%s: %v", name, err)
			require.Contains(t, fields, name)
		}
	})
}

func TestParseScopes(t *testing.T) {
	t.Parallel()
	got, err := auth.ParseScopes([]string{"admin", "tenants:read", "admin"})
	require.NoError(t, err)
	require.Equal(t, []auth.Scope{auth.ScopeTenantsRead, auth.ScopeAdmin}, got)

	_, err = auth.ParseScopes([]string{"tenants:read", "root", "god"})
	require.ErrorContains(t, err, `unknown scope "root", "god"`)
	_, err = auth.ParseScopes([]string{" admin", "Admin"})
	require.ErrorContains(t, err, `unknown scope " admin", "Admin"`, "names are exact")
	_, err = auth.ParseScopes(nil)
	require.ErrorContains(t, err, "at least one scope")
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"90d": 90 * 24 * time.Hour, "36h": 36 * time.Hour, "1m": time.Minute, "30m": 30 * time.Minute,
		"365d": auth.MaxKeyExpiry, "8760h": auth.MaxKeyExpiry, "525600m": auth.MaxKeyExpiry,
	} {
		got, err := auth.ParseExpiry(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	// Issue 11: 213504d overflowed into a key that expired in 25 minutes; 1ns and +1d passed.
	for _, bad := range []string{
		"", "0d", "0m", "-1h", "-1d", "+1d", "1ns", "1s", "59s", "1h30m", "1.5d", "090d", "soon", "d", "1",
		"213504d", "9223372036854775807d", "366d", "8761h", "525601m", "999999d", " 1d", "1d ", "1D", "１d",
	} {
		_, err := auth.ParseExpiry(bad)
		fields, ok := invalid.FieldsOf(err)
		require.True(t, ok, "%q: %v", bad, err)
		require.Equal(t, map[string]string{"expiresIn": "must be " + auth.ExpiryRule}, fields, "one rule, one wording: %q", bad)
	}
}

func TestGrant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewDB(t)
	svc := auth.NewService(db.Pool, nil)
	grantor := func(t *testing.T, expiresIn time.Duration, scopes ...auth.Scope) *auth.Key {
		t.Helper()
		k, _, err := svc.Create(ctx, auth.CreateParams{Name: "grantor", Scopes: scopes, ExpiresIn: expiresIn, CreatedBy: auth.SystemActor("test")})
		require.NoError(t, err)
		return k
	}

	t.Run("AdminAloneGrantsOnlyAdmin", func(t *testing.T) {
		t.Parallel()
		admin := grantor(t, 0, auth.ScopeAdmin)
		_, _, err := svc.Create(ctx, auth.CreateParams{Name: "x", Scopes: []auth.Scope{auth.ScopeCredentialsRead}, GrantedBy: admin})
		var ge *auth.GrantError
		require.ErrorAs(t, err, &ge)
		require.ErrorIs(t, err, auth.ErrCannotGrant)
		require.Equal(t, []auth.Scope{auth.ScopeCredentialsRead}, ge.Missing)
		_, _, err = svc.Create(ctx, auth.CreateParams{Name: "x", Scopes: []auth.Scope{auth.ScopeAdmin}, GrantedBy: admin})
		require.NoError(t, err)
	})

	t.Run("SubsetOfTheGrantorsScopes", func(t *testing.T) {
		t.Parallel()
		g := grantor(t, 0, auth.ScopeAdmin, auth.ScopeTenantsRead, auth.ScopeTenantsWrite)
		_, _, err := svc.Create(ctx, auth.CreateParams{Name: "x", Scopes: []auth.Scope{auth.ScopeTenantsRead, auth.ScopeTenantsWrite}, GrantedBy: g})
		require.NoError(t, err)
		_, _, err = svc.Create(ctx, auth.CreateParams{Name: "x", Scopes: []auth.Scope{auth.ScopeTenantsRead, auth.ScopeTenantsDisable, auth.ScopeCredentialsRead}, GrantedBy: g})
		var ge *auth.GrantError
		require.ErrorAs(t, err, &ge)
		require.Equal(t, []auth.Scope{auth.ScopeTenantsDisable, auth.ScopeCredentialsRead}, ge.Missing)
	})

	t.Run("NoLongerThanTheGrantor", func(t *testing.T) {
		t.Parallel()
		g := grantor(t, time.Hour, auth.ScopeAdmin)
		k, _, err := svc.Create(ctx, auth.CreateParams{Name: "x", Scopes: []auth.Scope{auth.ScopeAdmin}, GrantedBy: g})
		require.NoError(t, err)
		require.Equal(t, g.ExpiresAt, k.ExpiresAt, "the default lifetime stops where the grantor's does")
		_, _, err = svc.Create(ctx, auth.CreateParams{Name: "x", Scopes: []auth.Scope{auth.ScopeAdmin}, ExpiresIn: 2 * time.Hour, GrantedBy: g})
		fields, ok := invalid.FieldsOf(err)
		require.True(t, ok, "%v", err)
		require.Contains(t, fields, "expiresIn")
	})

	t.Run("TheOperatorsToolsGrantAnything", func(t *testing.T) {
		t.Parallel()
		k, _, err := svc.Create(ctx, auth.CreateParams{Name: "root", Scopes: auth.AllScopes(), CreatedBy: auth.SystemActor("cli")})
		require.NoError(t, err)
		require.Equal(t, auth.AllScopes(), k.Scopes)
	})

	t.Run("NamesAreTextCountedInCharacters", func(t *testing.T) {
		t.Parallel()
		_, _, err := svc.Create(ctx, auth.CreateParams{Name: strings.Repeat("é", 100), Scopes: []auth.Scope{auth.ScopeAdmin}})
		require.NoError(t, err)
		for _, bad := range []string{strings.Repeat("é", 101), "a\x00b", "\x1b[31mred", "a\xffb"} {
			_, _, err := svc.Create(ctx, auth.CreateParams{Name: bad, Scopes: []auth.Scope{auth.ScopeAdmin}})
			fields, ok := invalid.FieldsOf(err)
			require.True(t, ok, "%q: %v", bad, err)
			require.Contains(t, fields, "name")
		}
	})
}

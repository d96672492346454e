package accessmanager_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/stretchr/testify/require"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
)

// Tokens issued by PubNub, from PubNub's public SDK tests.
const (
	// allPermissionsToken is the fixture PubNub's Swift, JavaScript and C
	// SDK tests share.
	allPermissionsToken = "qEF2AkF0GmEI03xDdHRsGDxDcmVzpURjaGFuoWljaGFubmVsLTEY70NncnChb2NoYW5uZWxfZ3JvdXAtMQVDdXNyoENzcGOgRHV1aWShZnV1aWQtMRhoQ3BhdKVEY2hhbqFtXmNoYW5uZWwtXFMqJBjvQ2dycKF0XjpjaGFubmVsX2dyb3VwLVxTKiQFQ3VzcqBDc3BjoER1dWlkoWpedXVpZC1cUyokGGhEbWV0YaBEdXVpZHR0ZXN0LWF1dGhvcml6ZWQtdXVpZENzaWdYIPpU-vCe9rkpYs87YUrFNWkyNq8CVvmKwEjVinnDrJJc"
	// liveToken was answered live to the Python SDK's revoke test (its
	// recorded fixture, 2025-05-23) for channels and spaces test_channel:
	// 207, ttl 60, uuid "test".
	liveToken = "qEF2AkF0GmgwPF1DdHRsGDxDcmVzpURjaGFuoWx0ZXN0X2NoYW5uZWwYz0NncnCgQ3NwY6FsdGVzdF9jaGFubmVsGM9DdXNyoER1dWlkoENwYXSlRGNoYW6gQ2dycKBDc3BjoEN1c3KgRHV1aWSgRG1ldGGgRHV1aWRkdGVzdENzaWdYIMACT_mnkZol5_3T1d6Osb4kCX1Z3sNvk6MVCfqvKP3L"
	// liveMetaToken was answered live (2025-05-22) for meta without an
	// authorized user, with base64 padding.
	liveMetaToken = "p0F2AkF0GmgvIEFDdHRsGDxDcmVzpURjaGFuoWx0ZXN0LWNoYW5uZWwBQ2dycKBDc3BjoWx0ZXN0LWNoYW5uZWwBQ3VzcqBEdXVpZKBDcGF0pURjaGFuoENncnCgQ3NwY6BDdXNyoER1dWlkoERtZXRho2dwbi11dWlkbXNwZWNpZmljLXV1aWRncG4tYXV0aGhhdXRoLWtleWxjdXN0b21fZmllbGRldmFsdWVDc2lnWCAdFrpS_CYtWTbd9J7t232-6_xqmw6oAZmFPUDTvFU9ow=="
)

// perms builds a permissions map.
func perms(kv ...any) map[string]accessmanager.Permissions {
	m := map[string]accessmanager.Permissions{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1].(accessmanager.Permissions)
	}
	return m
}

// tokenResources builds TokenResources with empty maps where none is given.
func tokenResources(channels, groups, uuids, users, spaces map[string]accessmanager.Permissions) accessmanager.TokenResources {
	orEmpty := func(m map[string]accessmanager.Permissions) map[string]accessmanager.Permissions {
		if m == nil {
			return perms()
		}
		return m
	}
	return accessmanager.TokenResources{
		Resources: accessmanager.Resources{Channels: orEmpty(channels), Groups: orEmpty(groups), UUIDs: orEmpty(uuids)},
		Users:     orEmpty(users),
		Spaces:    orEmpty(spaces),
	}
}

func TestParse(t *testing.T) {
	t.Parallel()

	const (
		r, w, m, d, c, g, u, j = accessmanager.Read, accessmanager.Write, accessmanager.Manage, accessmanager.Delete,
			accessmanager.Create, accessmanager.Get, accessmanager.Update, accessmanager.Join
	)

	t.Run("AllPermissionsFixture", func(t *testing.T) {
		t.Parallel()

		tok, err := accessmanager.Parse(allPermissionsToken)

		require.NoError(t, err)
		issued := time.Unix(1627968380, 0).UTC()
		require.Equal(t, &accessmanager.Token{
			Version:          2,
			IssuedAt:         issued,
			TTL:              60,
			ExpiresAt:        issued.Add(time.Hour),
			AuthorizedUserID: "test-authorized-uuid",
			Resources:        tokenResources(perms("channel-1", r|w|m|d|g|u|j), perms("channel_group-1", r|m), perms("uuid-1", d|g|u), nil, nil),
			Patterns:         tokenResources(perms(`^channel-\S*$`, r|w|m|d|g|u|j), perms(`^:channel_group-\S*$`, r|m), perms(`^uuid-\S*$`, d|g|u), nil, nil),
			Meta:             map[string]any{},
			SignatureLen:     32,
		}, tok)
		require.Equal(t, []string{"read", "write", "manage", "delete", "get", "update", "join"}, tok.Resources.Words().Channels["channel-1"])
		require.Equal(t, []string{"read", "manage"}, tok.Patterns.Words().Groups[`^:channel_group-\S*$`])
		require.Equal(t, []string{"delete", "get", "update"}, tok.Resources.Words().UUIDs["uuid-1"])
	})

	t.Run("LiveToken", func(t *testing.T) {
		t.Parallel()

		tok, err := accessmanager.Parse(liveToken)

		require.NoError(t, err)
		require.Equal(t, time.Date(2025, 5, 23, 9, 14, 5, 0, time.UTC), tok.IssuedAt, "the answer's Date header")
		require.Equal(t, 60, tok.TTL)
		require.Equal(t, "test", tok.AuthorizedUserID)
		require.Equal(t, tokenResources(perms("test_channel", r|w|m|d|u|j), nil, nil, nil, perms("test_channel", r|w|m|d|u|j)), tok.Resources)
		require.Equal(t, tokenResources(nil, nil, nil, nil, nil), tok.Patterns)
	})

	t.Run("LiveMetaTokenWithPadding", func(t *testing.T) {
		t.Parallel()

		tok, err := accessmanager.Parse(liveMetaToken)

		require.NoError(t, err)
		require.Empty(t, tok.AuthorizedUserID)
		require.Equal(t, map[string]any{"pn-uuid": "specific-uuid", "pn-auth": "auth-key", "custom_field": "value"}, tok.Meta)
		require.Equal(t, 32, tok.SignatureLen)
	})

	t.Run("StandardAlphabet", func(t *testing.T) {
		t.Parallel()
		std := strings.NewReplacer("-", "+", "_", "/").Replace(allPermissionsToken)

		tok, err := accessmanager.Parse(std)

		require.NoError(t, err)
		require.Equal(t, "test-authorized-uuid", tok.AuthorizedUserID)
	})

	t.Run("EncodeRoundTrip", func(t *testing.T) {
		t.Parallel()
		issued := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		want := accessmanager.Token{
			Version: 2, IssuedAt: issued, TTL: 90, ExpiresAt: issued.Add(90 * time.Minute),
			AuthorizedUserID: "user-1",
			Resources:        tokenResources(perms("room-1", r|w), perms("cg", r), nil, nil, nil),
			Patterns:         tokenResources(nil, nil, perms("^u-.*$", g), nil, nil),
			Meta:             map[string]any{"plan": "pro", "seats": int64(5), "ratio": 0.5, "beta": true, "neg": int64(-3)},
			SignatureLen:     32,
		}

		token, err := accessmanager.Encode(want, make([]byte, 32))
		require.NoError(t, err)
		require.NotContains(t, token, "=")
		got, err := accessmanager.Parse(token)

		require.NoError(t, err)
		require.Equal(t, &want, got)
		raw, err := base64.RawURLEncoding.DecodeString(token)
		require.NoError(t, err)
		var top map[any]any
		require.NoError(t, cbor.Unmarshal(raw, &top))
		require.Contains(t, top, cbor.ByteString("sig"), "keys are byte strings")
	})

	t.Run("TextKeys", func(t *testing.T) {
		t.Parallel()
		raw, err := cbor.Marshal(map[string]any{"v": 2, "t": 100, "ttl": 5, "res": map[string]any{"chan": map[string]int{"a": 1}}})
		require.NoError(t, err)

		tok, err := accessmanager.Parse(base64.RawURLEncoding.EncodeToString(raw))

		require.NoError(t, err)
		require.Equal(t, perms("a", r), tok.Resources.Channels)
		require.Zero(t, tok.SignatureLen)
	})

	t.Run("Malformed", func(t *testing.T) {
		t.Parallel()
		enc := func(v any) string {
			raw, err := cbor.Marshal(v)
			require.NoError(t, err)
			return base64.RawURLEncoding.EncodeToString(raw)
		}
		valid := map[cbor.ByteString]any{"v": 2, "t": 100, "ttl": 5}
		with := func(k cbor.ByteString, v any) map[cbor.ByteString]any {
			m := map[cbor.ByteString]any{}
			for kk, vv := range valid {
				m[kk] = vv
			}
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
			return m
		}
		rawValid, err := cbor.Marshal(valid)
		require.NoError(t, err)
		tests := map[string]string{
			"Empty":            "",
			"TooLong":          strings.Repeat("A", accessmanager.MaxTokenLen+1),
			"NotBase64":        "not base64!",
			"NotCBOR":          base64.RawURLEncoding.EncodeToString([]byte{0xff, 0x00}),
			"NotAMap":          enc([]int{1, 2}),
			"TrailingData":     base64.RawURLEncoding.EncodeToString(append(rawValid, 0x00)),
			"NoVersion":        enc(with("v", nil)),
			"OtherVersion":     enc(with("v", 3)),
			"NoIssueTime":      enc(with("t", nil)),
			"NegativeTime":     enc(with("t", -1)),
			"NoTTL":            enc(with("ttl", nil)),
			"HugeTTL":          enc(with("ttl", uint64(1)<<62)),
			"TextPermission":   enc(with("res", map[cbor.ByteString]any{"chan": map[string]any{"a": "read"}})),
			"NegativeBits":     enc(with("res", map[cbor.ByteString]any{"chan": map[string]any{"a": -1}})),
			"ResNotAMap":       enc(with("res", 5)),
			"DuplicateKey":     base64.RawURLEncoding.EncodeToString([]byte{0xa2, 0x41, 'v', 0x02, 0x41, 'v', 0x02}),
			"IndefiniteLength": base64.RawURLEncoding.EncodeToString([]byte{0xbf, 0x41, 'v', 0x02, 0xff}),
		}
		for name, token := range tests {
			t.Run(name, func(t *testing.T) {
				t.Parallel()

				tok, err := accessmanager.Parse(token)

				require.ErrorIs(t, err, accessmanager.ErrMalformedToken)
				var malformed *accessmanager.MalformedTokenError
				require.ErrorAs(t, err, &malformed)
				require.NotEmpty(t, malformed.Reason)
				require.NotContains(t, malformed.Reason, "malformed token", "the reason alone, fit to show")
				require.Nil(t, tok)
			})
		}
	})
}

package accessmanager_test

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
)

// FuzzParse checks that Parse never panics, stays within MaxTokenLen, and
// that what it accepts is consistent. Seeds: tokens PubNub issued, one from
// Encode, and broken variants.
func FuzzParse(f *testing.F) {
	encoded, err := accessmanager.Encode(accessmanager.Token{
		IssuedAt: time.Unix(1_700_000_000, 0), TTL: 60, AuthorizedUserID: "u",
		Resources: accessmanager.TokenResources{Resources: accessmanager.Resources{Channels: map[string]accessmanager.Permissions{"c": 3}}},
		Meta:      map[string]any{"k": "v", "n": 1.5},
	}, make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		allPermissionsToken, liveToken, liveMetaToken, encoded,
		allPermissionsToken[:len(allPermissionsToken)/2], liveMetaToken + "==",
		"", "=", "qEF2", "not a token",
		base64.RawURLEncoding.EncodeToString([]byte{0xa1, 0x41, 'v', 0x02}),
		base64.RawURLEncoding.EncodeToString([]byte{0x9f, 0x9f, 0x9f, 0x9f}),
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, token string) {
		tok, err := accessmanager.Parse(token)
		if err != nil {
			if tok != nil {
				t.Fatalf("Parse returned a token and the error %v", err)
			}
			if !errors.Is(err, accessmanager.ErrMalformedToken) {
				t.Fatalf("error %v does not wrap ErrMalformedToken", err)
			}
			return
		}
		if len(token) > accessmanager.MaxTokenLen {
			t.Fatalf("accepted a token of %d characters", len(token))
		}
		if tok.Version != accessmanager.TokenVersion || tok.TTL < 0 {
			t.Fatalf("accepted version %d, ttl %d", tok.Version, tok.TTL)
		}
		if !tok.ExpiresAt.Equal(tok.IssuedAt.Add(time.Duration(tok.TTL) * time.Minute)) {
			t.Fatalf("ExpiresAt %v is not IssuedAt %v + %d minutes", tok.ExpiresAt, tok.IssuedAt, tok.TTL)
		}
		if tok.Meta == nil || tok.Resources.Channels == nil || tok.Patterns.Spaces == nil {
			t.Fatal("nil map in a parsed token")
		}
		_ = tok.Resources.Words()
		_ = tok.Patterns.Words()
	})
}

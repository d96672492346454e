package accessmanager

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// MaxTokenLen is the longest token Parse and Revoke accept, in characters.
// Real tokens are a few hundred characters; the bound keeps a hostile input
// from costing more than a small, fixed amount of work.
const MaxTokenLen = 64 << 10

// TokenVersion is the version ("v") of Access Manager v3 tokens.
const TokenVersion = 2

// ErrMalformedToken is wrapped by every Parse error.
var ErrMalformedToken = errors.New("malformed token")

// MalformedTokenError is every error Parse returns: Reason says what is wrong with the token,
// in words fit to show its sender. It is ErrMalformedToken under errors.Is.
type MalformedTokenError struct{ Reason string }

func (e *MalformedTokenError) Error() string {
	return "accessmanager: parse token: " + ErrMalformedToken.Error() + ": " + e.Reason
}

// Is reports target == ErrMalformedToken.
func (e *MalformedTokenError) Is(target error) bool { return target == ErrMalformedToken }

// Token is a decoded Access Manager v3 token.
type Token struct {
	Version  int       // always TokenVersion
	IssuedAt time.Time // "t", UTC, whole seconds
	TTL      int       // "ttl", minutes
	// ExpiresAt is IssuedAt + TTL minutes: the token does not work from then
	// on.
	ExpiresAt time.Time
	// AuthorizedUserID ("uuid") is the only user ID that may use the token;
	// "" when any may.
	AuthorizedUserID string
	Resources        TokenResources // "res"
	Patterns         TokenResources // "pat"
	// Meta ("meta") is the grant's meta, never nil. Integers decode as int64
	// (*big.Int beyond it), floats as float64, maps as map[string]any.
	Meta map[string]any
	// SignatureLen is the length of PubNub's signature ("sig", 32 bytes on
	// real tokens), which only PubNub can verify.
	SignatureLen int
}

// TokenResources is the permissions of a token's "res" or "pat" section:
// Channels ("chan"), Groups ("grp") and UUIDs ("uuid") in the embedded
// Resources (whose Words gives them as permission words), and the
// deprecated Users ("usr") and Spaces ("spc"). Maps are never nil.
type TokenResources struct {
	Resources
	Users  map[string]Permissions
	Spaces map[string]Permissions
}

// wireToken is the CBOR map of a token. Real tokens use byte strings as
// keys; text keys decode too.
type wireToken struct {
	Version  *int64         `cbor:"v"`
	IssuedAt *int64         `cbor:"t"`
	TTL      *int64         `cbor:"ttl"`
	Res      wireResources  `cbor:"res"`
	Pat      wireResources  `cbor:"pat"`
	Meta     map[string]any `cbor:"meta"`
	UUID     string         `cbor:"uuid"`
	Sig      []byte         `cbor:"sig"`
}

type wireResources struct {
	Channels map[string]uint64 `cbor:"chan"`
	Groups   map[string]uint64 `cbor:"grp"`
	UUIDs    map[string]uint64 `cbor:"uuid"`
	Users    map[string]uint64 `cbor:"usr"`
	Spaces   map[string]uint64 `cbor:"spc"`
}

// tokenDecoder decodes tokens: byte-string keys allowed as field names and
// map keys, duplicate keys refused, nesting bounded.
func tokenDecoder() (cbor.DecMode, error) {
	return cbor.DecOptions{
		DupMapKey:           cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:     16,
		IndefLength:         cbor.IndefLengthForbidden,
		IntDec:              cbor.IntDecConvertSignedOrBigInt,
		DefaultMapType:      reflect.TypeFor[map[string]any](),
		FieldNameByteString: cbor.FieldNameByteStringAllowed,
		ByteStringToString:  cbor.ByteStringToStringAllowed,
	}.DecMode()
}

// Parse decodes a token locally, without calling PubNub: base64 URL-safe
// (standard alphabet and padding are accepted too) of a CBOR map. It checks
// the shape only: PubNub's signature cannot be verified outside PubNub, so a
// token that parses may still be forged, expired or revoked.
//
// Every error is a *MalformedTokenError (errors.Is ErrMalformedToken): an empty token or one over
// MaxTokenLen characters, bad base64 or CBOR, trailing data, a version other
// than TokenVersion, a missing or out-of-range "t" or "ttl", and permission
// values that are not unsigned integers.
func Parse(token string) (*Token, error) {
	fail := func(format string, args ...any) (*Token, error) {
		return nil, &MalformedTokenError{Reason: fmt.Sprintf(format, args...)}
	}
	if token == "" {
		return fail("empty")
	}
	if len(token) > MaxTokenLen {
		return fail("longer than %d characters", MaxTokenLen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.Map(func(r rune) rune {
		switch r {
		case '+':
			return '-'
		case '/':
			return '_'
		}
		return r
	}, strings.TrimRight(token, "=")))
	if err != nil {
		return fail("not base64: %v", err)
	}
	dm, err := tokenDecoder()
	if err != nil {
		return nil, fmt.Errorf("accessmanager: parse token: decoder: %w", err)
	}
	var w wireToken
	if err := dm.Unmarshal(raw, &w); err != nil {
		return fail("not a CBOR token map: %v", err)
	}
	switch {
	case w.Version == nil:
		return fail("no version (v)")
	case *w.Version != TokenVersion:
		return fail("version %d, want %d", *w.Version, TokenVersion)
	case w.IssuedAt == nil || *w.IssuedAt < 0 || *w.IssuedAt > maxUnix:
		return fail("no valid issue time (t)")
	case w.TTL == nil || *w.TTL < 0 || *w.TTL > maxTokenTTL:
		return fail("no valid ttl")
	}
	issued := time.Unix(*w.IssuedAt, 0).UTC()
	t := &Token{
		Version:          TokenVersion,
		IssuedAt:         issued,
		TTL:              int(*w.TTL),
		ExpiresAt:        issued.Add(time.Duration(*w.TTL) * time.Minute),
		AuthorizedUserID: w.UUID,
		Resources:        w.Res.permissions(),
		Patterns:         w.Pat.permissions(),
		Meta:             w.Meta,
		SignatureLen:     len(w.Sig),
	}
	if t.Meta == nil {
		t.Meta = map[string]any{}
	}
	return t, nil
}

// Bounds that keep IssuedAt and ExpiresAt representable: year 9999 and a
// TTL of about 190 years.
const (
	maxUnix     = 253402300799
	maxTokenTTL = 100_000_000
)

func (w wireResources) permissions() TokenResources {
	conv := func(m map[string]uint64) map[string]Permissions {
		out := make(map[string]Permissions, len(m))
		for k, v := range m {
			out[k] = Permissions(v)
		}
		return out
	}
	return TokenResources{
		Resources: Resources{Channels: conv(w.Channels), Groups: conv(w.Groups), UUIDs: conv(w.UUIDs)},
		Users:     conv(w.Users),
		Spaces:    conv(w.Spaces),
	}
}

// Encode builds a token in PubNub's format from t and sig: a CBOR map with
// byte-string keys v, t, ttl, res, pat, meta, uuid (when AuthorizedUserID is
// set) and sig, base64 URL-safe without padding. Version and ExpiresAt are
// ignored (v is TokenVersion; the expiry follows from t and ttl). It is for
// tests and fixtures: only PubNub can make a sig that PubNub accepts. It
// fails on a meta value CBOR cannot encode.
func Encode(t Token, sig []byte) (string, error) {
	res := func(r TokenResources) map[cbor.ByteString]map[string]uint64 {
		conv := func(m map[string]Permissions) map[string]uint64 {
			out := make(map[string]uint64, len(m))
			for k, v := range m {
				out[k] = uint64(v)
			}
			return out
		}
		return map[cbor.ByteString]map[string]uint64{
			"chan": conv(r.Channels), "grp": conv(r.Groups), "uuid": conv(r.UUIDs),
			"usr": conv(r.Users), "spc": conv(r.Spaces),
		}
	}
	meta := t.Meta
	if meta == nil {
		meta = map[string]any{}
	}
	m := map[cbor.ByteString]any{
		"v":    TokenVersion,
		"t":    t.IssuedAt.Unix(),
		"ttl":  t.TTL,
		"res":  res(t.Resources),
		"pat":  res(t.Patterns),
		"meta": meta,
		"sig":  sig,
	}
	if t.AuthorizedUserID != "" {
		m["uuid"] = t.AuthorizedUserID
	}
	em, err := cbor.EncOptions{Sort: cbor.SortBytewiseLexical}.EncMode()
	if err != nil {
		return "", fmt.Errorf("accessmanager: encode token: %w", err)
	}
	raw, err := em.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("accessmanager: encode token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

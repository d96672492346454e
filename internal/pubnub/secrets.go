package pubnub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Secret is a keyset secret key. It prints redacted everywhere (fmt verbs,
// slog, JSON encoding) so that it cannot leak into logs or errors by
// accident; Reveal returns the value for the one place that needs it
// (encrypting it for storage). It decodes from a plain JSON string.
type Secret string

// secretPrefix is the public type prefix of PubNub secret keys.
const secretPrefix = "sec-c-"

// Reveal returns the secret key itself.
func (s Secret) Reveal() string { return string(s) }

// String returns the redacted form: the public "sec-c-" prefix when present
// and a marker, never a character of the key itself. Empty stays empty.
func (s Secret) String() string {
	switch {
	case s == "":
		return ""
	case strings.HasPrefix(string(s), secretPrefix):
		return secretPrefix + "…" + redacted
	default:
		return "…" + redacted
	}
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return s.String() }

// Format prints the redacted form for every verb, %x and %q included.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprint(f, strconv.Quote(s.String()))
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue makes slog print the redacted form.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes the redacted form: JSON is how structs reach logs. Use
// Reveal to store the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON decodes a plain JSON string (null as "").
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v *string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = ""
	if v != nil {
		*s = Secret(*v)
	}
	return nil
}

// SecretKey is one secret key of a keyset: the main key (ExpiresAt nil) or a
// rotated key that works until ExpiresAt.
type SecretKey struct {
	SecretKey Secret
	ExpiresAt *time.Time
}

// secretKeyJSON is a secret key on the wire.
type secretKeyJSON struct {
	SecretKey Secret    `json:"secretKey"`
	ExpiresAt *flexTime `json:"expiresAt"`
}

func secretKeys(in []secretKeyJSON) []SecretKey {
	out := make([]SecretKey, 0, len(in))
	for _, k := range in {
		sk := SecretKey{SecretKey: k.SecretKey}
		if k.ExpiresAt != nil && !k.ExpiresAt.time().IsZero() {
			t := k.ExpiresAt.time()
			sk.ExpiresAt = &t
		}
		out = append(out, sk)
	}
	return out
}

// ListSecretKeys returns a keyset's secret keys (GET
// /keysets/{id}/secret-keys?activeOnly=): the main key and rotated keys,
// expired ones too unless activeOnly. Needs PubNub-Version 2025-11-01 or
// later and the Secret key read permission.
func (c *Client) ListSecretKeys(ctx context.Context, keysetID string, activeOnly bool) ([]SecretKey, error) {
	const op = "list secret keys"
	seg, err := pathSegment(op, "keyset id", keysetID)
	if err != nil {
		return nil, err
	}
	var out struct {
		SecretKeys []secretKeyJSON `json:"secretKeys"`
	}
	q := map[string][]string{"activeOnly": {strconv.FormatBool(activeOnly)}}
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/keysets/" + seg + "/secret-keys", query: q}, &out); err != nil {
		return nil, err
	}
	return secretKeys(out.SecretKeys), nil
}

// RotateSecretKey creates a new main secret key for a keyset and returns it
// (POST /keysets/{id}/secret-keys). With expiresAt nil the old main key
// stops working at once; otherwise it keeps working until expiresAt (60 s to
// 366 days ahead, a paid-plan feature, at most 5 such keys). expiresAt is
// sent in UTC with milliseconds, the format PubNub documents.
func (c *Client) RotateSecretKey(ctx context.Context, keysetID string, expiresAt *time.Time) (Secret, error) {
	const op = "rotate secret key"
	seg, err := pathSegment(op, "keyset id", keysetID)
	if err != nil {
		return "", err
	}
	in := map[string]string{}
	if expiresAt != nil {
		in["expiresAt"] = expiresAt.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	var out struct {
		SecretKey Secret `json:"secretKey"`
	}
	if err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/keysets/" + seg + "/secret-keys", body: in}, &out); err != nil {
		return "", err
	}
	if out.SecretKey == "" {
		return "", &TransportError{Op: op, Method: http.MethodPost, Path: c.basePath + "/keysets/" + seg + "/secret-keys", Err: errors.New("answer has no secretKey")}
	}
	return out.SecretKey, nil
}

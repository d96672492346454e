package sandbox

import (
	"fmt"
	"net/http"
	"time"
)

// Secret-key rotation limits (docs): an expiry from 60 s to 366 days ahead,
// at most 5 rotated (expiring) keys.
const (
	minRotationExpiry = 60 * time.Second
	maxRotationExpiry = 366 * 24 * time.Hour
	maxRotatedKeys    = 5
)

// secretKeyBody is a secret key on the wire; expiresAt is null for the main
// key.
type secretKeyBody struct {
	SecretKey string  `json:"secretKey"`
	ExpiresAt *string `json:"expiresAt"`
}

func secretKeysJSON(keys []SecretKey) []secretKeyBody {
	out := make([]secretKeyBody, 0, len(keys))
	for _, k := range keys {
		b := secretKeyBody{SecretKey: k.Value}
		if k.ExpiresAt != nil {
			s := stamp(*k.ExpiresAt)
			b.ExpiresAt = &s
		}
		out = append(out, b)
	}
	return out
}

// listSecretKeys serves GET /v2/keysets/{keysetId}/secret-keys?activeOnly=:
// {secretKeys: [...]}, expired keys included unless activeOnly=true.
// [U] activeOnly other than "true" or "false" is a 400.
func (st *store) listSecretKeys(r *http.Request) result {
	activeOnly := false
	switch v := r.URL.Query().Get("activeOnly"); v {
	case "", "false":
	case "true":
		activeOnly = true
	default:
		return errorResult(http.StatusBadRequest, "activeOnly must be a boolean value")
	}
	return st.withKeyset(r, "keysetId", func(k *Keyset) result {
		now := st.clock()
		keys := make([]SecretKey, 0, len(k.SecretKeys))
		for _, sk := range k.SecretKeys {
			if activeOnly && sk.ExpiresAt != nil && !sk.ExpiresAt.After(now) {
				continue
			}
			keys = append(keys, sk)
		}
		return success(http.StatusOK, map[string]any{"secretKeys": secretKeysJSON(keys)})
	})
}

// rotateSecretKey serves POST /v2/keysets/{keysetId}/secret-keys with an
// optional {expiresAt}: 201 with {secretKey: <new main key>}.
//
// Without expiresAt the main key is replaced at once: the old one is gone
// from every list. With expiresAt the main key keeps working until then and
// becomes a rotated key; a new permanent main key is created.
//
// Strictest plausible choices ([U]): expiresAt must match the documented
// pattern YYYY-MM-DDTHH:MM:SS(.sss)?Z; the limit of 5 rotated keys counts
// expired ones too, until they are deleted; an immediate rotation leaves
// earlier rotated keys to their own expiry; the paid-plan requirement is not
// modelled; 201 is NestJS's default for POST.
func (st *store) rotateSecretKey(r *http.Request) result {
	var in struct {
		ExpiresAt *string `json:"expiresAt"`
	}
	if res, ok := decodeBody(r, &in); !ok {
		return res
	}
	var expiresAt *time.Time
	if in.ExpiresAt != nil {
		t, ok := parseExpiresAt(*in.ExpiresAt)
		if !ok {
			return errorResult(http.StatusBadRequest, "expiresAt must match /^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{3})?Z$/")
		}
		expiresAt = &t
	}
	return st.withKeyset(r, "keysetId", func(k *Keyset) result {
		now := st.clock()
		main := -1
		rotated := 0
		for i, sk := range k.SecretKeys {
			if sk.ExpiresAt == nil {
				main = i
			} else {
				rotated++
			}
		}
		fresh := SecretKey{Value: newSecretKey()}
		switch {
		case expiresAt == nil:
			if main >= 0 {
				k.SecretKeys = append(k.SecretKeys[:main:main], k.SecretKeys[main+1:]...)
			}
		case expiresAt.Sub(now) < minRotationExpiry || expiresAt.Sub(now) > maxRotationExpiry:
			return errorResult(http.StatusBadRequest, "expiresAt must be at least 60 seconds and at most 366 days in the future")
		case rotated >= maxRotatedKeys:
			return errorResult(http.StatusBadRequest, fmt.Sprintf("A keyset can have at most %d rotated secret keys; delete one first", maxRotatedKeys))
		case main >= 0:
			k.SecretKeys[main].ExpiresAt = expiresAt
		}
		k.SecretKeys = append(k.SecretKeys, fresh)
		k.UpdatedAt = now
		return st.changed(success(http.StatusCreated, map[string]string{"secretKey": fresh.Value}))
	})
}

// parseExpiresAt accepts exactly the documented expiresAt pattern:
// UTC with a literal Z and either no or three fractional digits.
func parseExpiresAt(s string) (time.Time, bool) {
	const short, long = "dddd-dd-ddTdd:dd:ddZ", "dddd-dd-ddTdd:dd:dd.dddZ"
	pattern := short
	if len(s) == len(long) {
		pattern = long
	}
	if len(s) != len(pattern) {
		return time.Time{}, false
	}
	for i := range len(s) {
		if pattern[i] == 'd' && (s[i] < '0' || s[i] > '9') || pattern[i] != 'd' && s[i] != pattern[i] {
			return time.Time{}, false
		}
	}
	t, err := time.Parse(time.RFC3339, s)
	return t.UTC(), err == nil
}

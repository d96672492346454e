package auth

import "time"

// KeyStatus says whether a key still works.
type KeyStatus string

// The key statuses.
const (
	KeyActive  KeyStatus = "active"
	KeyRevoked KeyStatus = "revoked"
	KeyExpired KeyStatus = "expired"
)

// Status is the key's status at now.
func (k *Key) Status(now time.Time) KeyStatus {
	switch {
	case k.RevokedAt != nil:
		return KeyRevoked
	case !now.Before(k.ExpiresAt):
		return KeyExpired
	}
	return KeyActive
}

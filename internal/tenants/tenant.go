// Package tenants is pnonboard's domain: a tenant is a partner's customer, keyed by the
// partner's externalId, with the PubNub resources provisioned for it. This package owns the
// tenant's states and their legal transitions, validation, and the store. Every change a caller
// makes commits together with the reconcile job that carries it out (see Enqueuer), so nothing
// is changed without being acted on, and nothing is acted on that did not commit.
package tenants

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Errors returned by Service. The API maps them to HTTP statuses in one table.
var (
	// ErrNotFound means no tenant has the externalId.
	ErrNotFound = errors.New("tenant not found")
	// ErrConflict means a create reused an externalId with a different body.
	ErrConflict = errors.New("tenant exists with different attributes")
	// ErrInvalidState means the action is not allowed in the tenant's current state; the
	// error is a *StateError naming that state.
	ErrInvalidState = errors.New("action not allowed in the tenant's state")
)

// StateError is ErrInvalidState with the details a caller needs to act on it.
type StateError struct {
	Action  Verb
	Current State
	Allowed []State
	// Reason, when set, says why the action is refused although Current is among Allowed.
	Reason string
}

func (e *StateError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("cannot %s a tenant that is %s: %s", e.Action, e.Current, e.Reason)
	}
	return fmt.Sprintf("cannot %s a tenant that is %s (allowed from: %v)", e.Action, e.Current, e.Allowed)
}

func (e *StateError) Is(target error) bool { return target == ErrInvalidState }

// ConflictError is ErrConflict naming the attributes that differ.
type ConflictError struct{ Fields []string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("a tenant with this externalId exists with a different %v", e.Fields)
}

func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ValidExternalID reports whether id may be a tenant's externalId: ^[A-Za-z0-9_-]{1,255}$,
// the OEM customer rule, since the externalId becomes the PubNub customer's.
func ValidExternalID(id string) bool {
	if len(id) == 0 || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Limits on tenant input.
const (
	MaxEnvironments  = 5 // the OEM limit of keysets per customer
	MaxNameLen       = 255
	MaxMetadataKeys  = 20
	MaxMetadataKey   = 64
	MaxMetadataValue = 512
)

// Tenant is a tenant with its keysets.
type Tenant struct {
	ID         int64
	ExternalID string
	Name       string
	// Environments are the tenant's environments now, in order. Keysets also holds the
	// retired ones.
	Environments []string
	Metadata     map[string]string
	State        State
	Desired      Desired

	AppID             string
	AppPendingAt      *time.Time
	CustomerID        string
	CustomerPendingAt *time.Time
	// CustomerName is the customer's name as last set upstream; a rename is due while it
	// differs from Name.
	CustomerName string
	// AssignPendingAt marks an assignment sent whose answer is not yet stored.
	AssignPendingAt *time.Time
	// AppRenamePending asks the app's name back (a repair of a rename made in the portal).
	AppRenamePending bool
	// LockGeneration counts disable requests; each keyset's secret is rotated once per
	// generation it must be locked for (Keyset.RotateFor).
	LockGeneration int
	Keysets        []Keyset
	// VerifiedAt is when upstream last confirmed that everything the tenant holds is its own
	// (by making it, or by reading it back). A job reads back holdings confirmed longer ago
	// than a day before it uses any of them.
	VerifiedAt *time.Time

	// Drift is what the last drift check found upstream that is not as pnonboard made it
	// (empty when in sync); LastCheckedAt when it ran.
	Drift         []Drift
	LastCheckedAt *time.Time
	// CheckRequested asks the reconcile job to read the tenant's resources back and record
	// what differs ("" when no check is due).
	CheckRequested CheckRequest

	LastError  string
	FailedStep string

	CreatedAt     time.Time
	UpdatedAt     time.Time
	ProvisionedAt *time.Time
	DisabledAt    *time.Time
}

// Keyset is the keyset of one of a tenant's environments.
type Keyset struct {
	Environment  string
	Position     int
	UpstreamName string // deterministic: how a lost create is found again
	Type         string // testing | production
	KeysetID     string
	PublishKey   string
	SubscribeKey string
	// SecretKeySealed is the secret key, encrypted (internal/secrets); never shown by the API
	// except the credentials endpoint.
	SecretKeySealed []byte
	CreatePendingAt *time.Time
	Assigned        bool
	AccessLocked    bool
	// RotateFor is the lock generation the keyset's secret must have been rotated for while
	// it is locked; RotatedFor the one it was.
	RotateFor       int
	RotatedFor      int
	RotatePendingAt *time.Time
	// RetiredAt is when the environment was removed: the keyset stays (assigned, locked).
	RetiredAt *time.Time
	// RenamePending asks the keyset's name back (a repair of a rename made in the portal).
	RenamePending bool
}

// State is the keyset's progress as the API shows it.
func (k *Keyset) State() KeysetState {
	switch {
	case k.KeysetID == "":
		return KeysetPending
	case !k.Assigned:
		return KeysetCreated
	case k.RetiredAt != nil:
		return KeysetRetired
	case k.AccessLocked:
		return KeysetDisabled
	}
	return KeysetActive
}

// Locked reports whether the keyset is fully locked: Access Manager on, and the secret
// rotated for the generation it must be locked for.
func (k *Keyset) Locked() bool { return k.AccessLocked && k.RotatedFor >= k.RotateFor }

// MustLock reports whether the keyset must be locked: the tenant is disabled, or the
// keyset's environment is retired.
func (t *Tenant) MustLock(k *Keyset) bool { return t.Desired == DesiredDisabled || k.RetiredAt != nil }

// Live returns the keysets of the tenant's current environments, in order.
func (t *Tenant) Live() []*Keyset {
	out := make([]*Keyset, 0, len(t.Environments))
	for _, env := range t.Environments {
		for i := range t.Keysets {
			if t.Keysets[i].Environment == env {
				out = append(out, &t.Keysets[i])
			}
		}
	}
	return out
}

// Keyset returns the keyset of environment env, retired or not (nil when none).
func (t *Tenant) Keyset(env string) *Keyset {
	for i := range t.Keysets {
		if t.Keysets[i].Environment == env {
			return &t.Keysets[i]
		}
	}
	return nil
}

// CheckRequest says who asked for a check of one tenant.
type CheckRequest string

// Who asks: an operator (POST /check; the operator budget class), or the drift sweep when
// PubNub's listings disagree with the tenant (the background class).
const (
	CheckByOperator CheckRequest = "operator"
	CheckBySweep    CheckRequest = "sweep"
)

// Drift is one difference between what pnonboard made and what upstream holds.
type Drift struct {
	Kind       DriftKind `json:"kind"`
	Resource   string    `json:"resource"` // e.g. "keyset 5000007 (staging)"
	Expected   string    `json:"expected"`
	Actual     string    `json:"actual"`
	DetectedAt time.Time `json:"detectedAt"`
}

// HoldsUpstream reports whether the tenant holds the ID of any upstream resource.
func (t *Tenant) HoldsUpstream() bool {
	if t.AppID != "" || t.CustomerID != "" {
		return true
	}
	for i := range t.Keysets {
		if t.Keysets[i].KeysetID != "" {
			return true
		}
	}
	return false
}

// Provisioned reports whether every upstream resource exists and is assigned.
func (t *Tenant) Provisioned() bool {
	if t.AppID == "" || t.CustomerID == "" {
		return false
	}
	for i := range t.Keysets {
		if t.Keysets[i].KeysetID == "" || !t.Keysets[i].Assigned {
			return false
		}
	}
	return true
}

// MaxUpstreamName is the longest name PubNub takes for an app or a keyset.
const MaxUpstreamName = 255

// AppName is the deterministic upstream name of the tenant's app: "pnonboard-<externalId>",
// shortened (see upstreamName) when that would pass MaxUpstreamName.
func AppName(externalID string) string { return upstreamName(externalID, "") }

// KeysetName is the deterministic upstream name of an environment's keyset:
// "pnonboard-<externalId>-<environment>", shortened when that would pass MaxUpstreamName.
func KeysetName(externalID, environment string) string {
	return upstreamName(externalID, "-"+environment)
}

// upstreamName is "pnonboard-" + externalID + suffix when that fits PubNub's limit, and
// otherwise keeps as much of the externalId as fits beside "~" and 16 hex digits of its
// SHA-256: still deterministic (a lost create is found again by name), still readable, and
// still distinct for distinct externalIds. Names that fit are never changed, so tenants made
// before long IDs were shortened keep their names.
func upstreamName(externalID, suffix string) string {
	const prefix = "pnonboard-"
	if name := prefix + externalID + suffix; len(name) <= MaxUpstreamName {
		return name
	}
	sum := sha256.Sum256([]byte(externalID))
	tag := "~" + hex.EncodeToString(sum[:8])
	keep := MaxUpstreamName - len(prefix) - len(tag) - len(suffix)
	return prefix + externalID[:keep] + tag + suffix
}

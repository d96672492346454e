// Package webhooks tells partners' backends what happened to their tenants, following the
// Standard Webhooks specification so receivers verify with any of its libraries: an event
// outbox written in the transaction of the change, one delivery job per subscribed endpoint,
// signed POSTs retried on a fixed schedule, every attempt recorded, and secrets that rotate
// with an overlap.
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/secrets"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// Event types.
const (
	TypeProvisioned        = "tenant.provisioned"
	TypeProvisioningFailed = "tenant.provisioning_failed"
	TypeDisabled           = "tenant.disabled"
	TypeEnabled            = "tenant.enabled"
	TypeUpdated            = "tenant.updated"
	TypeDriftDetected      = "tenant.drift_detected"
)

// EventTypes lists every event type.
func EventTypes() []string {
	return []string{TypeProvisioned, TypeProvisioningFailed, TypeDisabled, TypeEnabled, TypeUpdated, TypeDriftDetected}
}

// EventTypeOf is the event type that announces a tenant outcome: "tenant." and the outcome
// (each is declared above, so that endpoints can subscribe to it; a test keeps it so).
func EventTypeOf(o tenants.Outcome) string { return "tenant." + string(o) }

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"   // attempts still to come
	DeliverySucceeded DeliveryStatus = "succeeded" // a 2xx arrived
	DeliveryFailed    DeliveryStatus = "failed"    // the schedule ran out, or the endpoint is disabled
)

// Errors returned by Service.
var (
	ErrEndpointNotFound = errors.New("webhook endpoint not found")
	ErrDeliveryNotFound = errors.New("webhook delivery not found")
)

// Endpoint is a registered receiver.
type Endpoint struct {
	ID                      string
	URL                     string
	Description             string
	EventTypes              []string
	Enabled                 bool
	CreatedAt, UpdatedAt    time.Time
	PreviousSecretExpiresAt *time.Time
	secretSealed            []byte
	previousSecretSealed    []byte
}

// ServiceOpts configure a Service.
type ServiceOpts struct {
	// DB is where endpoints, events and deliveries live: the pool (a transaction in tests
	// that roll back).
	DB      postgres.DB
	River   *river.Client[pgx.Tx]
	Keyring *secrets.Keyring
	Policy  Policy
	// SecretOverlap is how long a rotated-out secret keeps signing; zero means 24 h.
	SecretOverlap time.Duration
	// Retention is how long events are listed and kept; zero means 30 days.
	Retention time.Duration
}

// Service manages endpoints, deliveries and the event listing.
type Service struct{ opts ServiceOpts }

// NewService returns a Service.
func NewService(opts ServiceOpts) *Service {
	if opts.SecretOverlap == 0 {
		opts.SecretOverlap = 24 * time.Hour
	}
	if opts.Retention == 0 {
		opts.Retention = 30 * 24 * time.Hour
	}
	return &Service{opts: opts}
}

// newSecret returns a Standard Webhooks secret: "whsec_" and 32 random bytes in base64.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func secretAAD(endpointID string) []byte { return []byte("webhook-secret:" + endpointID) }

// newEventID returns a webhook-id: "evt_" and 26 base32 characters (128 random bits).
func newEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "evt_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// EndpointParams create or (non-nil fields) change an endpoint.
type EndpointParams struct {
	URL         *string
	EventTypes  *[]string
	Description *string
	Enabled     *bool
}

func (s *Service) validate(ctx context.Context, p EndpointParams) error {
	if p.URL != nil {
		if err := s.opts.Policy.CheckURL(ctx, *p.URL); err != nil {
			return invalid.Field("url", err.Error())
		}
	}
	if p.EventTypes != nil {
		for _, t := range *p.EventTypes {
			if !slices.Contains(EventTypes(), t) {
				return invalid.Field("eventTypes", fmt.Sprintf("unknown event type %q (known: %s)", t, strings.Join(EventTypes(), ", ")))
			}
		}
	}
	if p.Description != nil && utf8.RuneCountInString(*p.Description) > 500 {
		return invalid.Field("description", "must be at most 500 characters")
	}
	return nil
}

const endpointColumns = `id::text, url, description, event_types, enabled, created_at, updated_at,
	previous_secret_expires_at, secret_sealed, previous_secret_sealed`

func scanEndpoint(row pgx.Row) (*Endpoint, error) {
	e := &Endpoint{}
	err := row.Scan(&e.ID, &e.URL, &e.Description, &e.EventTypes, &e.Enabled, &e.CreatedAt, &e.UpdatedAt,
		&e.PreviousSecretExpiresAt, &e.secretSealed, &e.previousSecretSealed)
	if errors.Is(err, pgx.ErrNoRows) || postgres.IsInvalidText(err) {
		return nil, ErrEndpointNotFound
	}
	return e, err
}

// CreateEndpoint registers an endpoint and returns it with its signing secret, which is
// shown only here and on rotation. Returns *invalid.Error.
func (s *Service) CreateEndpoint(ctx context.Context, p EndpointParams) (*Endpoint, string, error) {
	if p.URL == nil {
		return nil, "", invalid.Field("url", "is required")
	}
	if err := s.validate(ctx, p); err != nil {
		return nil, "", err
	}
	types := []string{}
	if p.EventTypes != nil {
		types = *p.EventTypes
	}
	desc := ""
	if p.Description != nil {
		desc = *p.Description
	}
	secret := newSecret()
	id, err := newUUID()
	if err != nil {
		return nil, "", err
	}
	sealed := s.opts.Keyring.Seal([]byte(secret), secretAAD(id))
	e, err := scanEndpoint(s.opts.DB.QueryRow(ctx, `
		INSERT INTO webhook_endpoints (id, url, description, event_types, secret_sealed)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+endpointColumns, id, *p.URL, desc, types, sealed))
	if err != nil {
		return nil, "", fmt.Errorf("insert webhook endpoint: %w", err)
	}
	return e, secret, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// ListEndpoints returns every endpoint, oldest first.
func (s *Service) ListEndpoints(ctx context.Context) ([]*Endpoint, error) {
	rows, err := s.opts.DB.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Endpoint, error) { return scanEndpoint(r) })
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return list, nil
}

// GetEndpoint returns one endpoint. Returns ErrEndpointNotFound.
func (s *Service) GetEndpoint(ctx context.Context, id string) (*Endpoint, error) {
	return scanEndpoint(s.opts.DB.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1`, id))
}

// UpdateEndpoint changes the fields p sets. Returns ErrEndpointNotFound or *invalid.Error.
func (s *Service) UpdateEndpoint(ctx context.Context, id string, p EndpointParams) (*Endpoint, error) {
	if err := s.validate(ctx, p); err != nil {
		return nil, err
	}
	return scanEndpoint(s.opts.DB.QueryRow(ctx, `
		UPDATE webhook_endpoints SET url = coalesce($2, url), event_types = coalesce($3, event_types),
			description = coalesce($4, description), enabled = coalesce($5, enabled), updated_at = now()
		WHERE id = $1 RETURNING `+endpointColumns, id, p.URL, p.EventTypes, p.Description, p.Enabled))
}

// DeleteEndpoint removes an endpoint and its delivery history. Returns ErrEndpointNotFound.
func (s *Service) DeleteEndpoint(ctx context.Context, id string) error {
	tag, err := s.opts.DB.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
	if postgres.IsInvalidText(err) || err == nil && tag.RowsAffected() == 0 {
		return ErrEndpointNotFound
	}
	if err != nil {
		return fmt.Errorf("delete webhook endpoint: %w", err)
	}
	return nil
}

// RotateSecret gives the endpoint a new secret, returned once. The old one keeps signing
// beside it (two signatures per delivery) for the overlap, so receivers can switch without
// missing a delivery. Returns ErrEndpointNotFound.
func (s *Service) RotateSecret(ctx context.Context, id string) (*Endpoint, string, error) {
	secret := newSecret()
	e, err := postgres.WithTxV(ctx, s.opts.DB, func(ctx context.Context, tx pgx.Tx) (*Endpoint, error) {
		e, err := scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return nil, err
		}
		return scanEndpoint(tx.QueryRow(ctx, `
			UPDATE webhook_endpoints SET secret_sealed = $2, previous_secret_sealed = secret_sealed,
				previous_secret_expires_at = now() + $3 * interval '1 millisecond', updated_at = now()
			WHERE id = $1 RETURNING `+endpointColumns,
			e.ID, s.opts.Keyring.Seal([]byte(secret), secretAAD(e.ID)), s.opts.SecretOverlap.Milliseconds()))
	})
	if err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

// signingSecrets returns the secrets a delivery is signed with now: the current one, and the
// previous one while its overlap lasts.
func signingSecrets(keyring *secrets.Keyring, e *Endpoint, now time.Time) ([]string, error) {
	current, err := keyring.Open(e.secretSealed, secretAAD(e.ID))
	if err != nil {
		return nil, fmt.Errorf("open secret of endpoint %s: %w", e.ID, err)
	}
	out := []string{string(current)}
	if e.previousSecretSealed != nil && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt) {
		prev, err := keyring.Open(e.previousSecretSealed, secretAAD(e.ID))
		if err != nil {
			return nil, fmt.Errorf("open previous secret of endpoint %s: %w", e.ID, err)
		}
		out = append(out, string(prev))
	}
	return out, nil
}

// LatestSealedSecret returns the signing secret sealed most recently, for the start-up check
// of the encryption key; ok is false when no endpoint exists.
func LatestSealedSecret(ctx context.Context, db postgres.DBTX) (secrets.Sample, bool, error) {
	var id string
	var sealed []byte
	err := db.QueryRow(ctx, `SELECT id::text, secret_sealed FROM webhook_endpoints ORDER BY updated_at DESC LIMIT 1`).Scan(&id, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return secrets.Sample{}, false, nil
	}
	if err != nil {
		return secrets.Sample{}, false, fmt.Errorf("read a sealed webhook secret: %w", err)
	}
	return secrets.Sample{What: "the signing secret of webhook endpoint " + id, Sealed: sealed, AAD: secretAAD(id)}, true, nil
}

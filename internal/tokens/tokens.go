// Package tokens is pnonboard's Access Manager v3 token service for its tenants: it grants
// tokens with a keyset's secret key on a partner backend's behalf (so the secret key never
// leaves pnonboard), remembers them for revocation, revokes them one by one or all at once
// when a tenant is disabled, lists them (never the token itself), and parses any token.
//
// The hot path is Grant, called on a partner's end-user login: it reads the tenant, unseals
// the environment keyset's current secret key for the one signed request (it is never kept
// beyond the call, logged or returned), asks Access Manager on the data-plane origin, and
// writes one row. No Admin API call, no rate budget, no other write: the timeline's hourly
// grant counts are rolled up from that row later, by MaintainWorker.
//
// Tokens are kept as a SHA-256 (hex, for lookup) and sealed with the keyring under their own
// associated data (TokenAAD), until they expire; MaintainWorker prunes them.
package tokens

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/accessmanager"
	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/postgres"
	"github.com/pnonboard/pnonboard/internal/tenants"
)

// Environment is what the token service needs to know of an environment profile: whether its
// keysets have Access Manager on (otherwise clients need no token) and token revoke on
// (otherwise PubNub cannot revoke their tokens).
type Environment struct {
	Name          string
	AccessManager bool
	TokenRevoke   bool
}

// TenantFinder looks a tenant up by externalId; *tenants.Service implements it. Returns
// tenants.ErrNotFound.
type TenantFinder interface {
	GetByExternalID(ctx context.Context, externalID string) (*tenants.Tenant, error)
}

// Keyring seals and opens secrets (*secrets.Keyring implements it).
type Keyring interface {
	Seal(plaintext, aad []byte) []byte
	Open(ciphertext, aad []byte) ([]byte, error)
}

// Defaults for zero ServiceOpts fields.
const (
	// DefaultAttempts bounds the tries of one upstream call: retries are for 5xx, 408 and
	// transport failures (timeouts, refused or reset connections) only.
	DefaultAttempts = 3
	// DefaultCallTimeout bounds one upstream call, its retries included.
	DefaultCallTimeout = 10 * time.Second
	// DefaultAttemptTimeout is the timeout of NewHTTPClient's client: one try.
	DefaultAttemptTimeout = 4 * time.Second
)

// ServiceOpts wire a Service and the workers. Pool, Keyring, Client and Environments are
// required; Tenants is required by Service only.
type ServiceOpts struct {
	Pool    *pgxpool.Pool
	Tenants TenantFinder
	Keyring Keyring
	// Client calls Access Manager on the data-plane origin. Give it an http.Client with a
	// per-try timeout (NewHTTPClient): a timed-out try is then retried.
	Client       *accessmanager.Client
	Environments []Environment
	Logger       *slog.Logger
	// Attempts bounds the tries of one upstream call; zero means DefaultAttempts.
	Attempts int
	// CallTimeout bounds one upstream call with its retries; zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// RetryBase is the wait before the first retry, doubled after each; zero means 100 ms.
	RetryBase time.Duration
}

// NewHTTPClient is the http.Client for Access Manager: DefaultAttemptTimeout per try, and
// enough idle connections kept per host for a busy login path.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 512, 256
	return &http.Client{Transport: t, Timeout: DefaultAttemptTimeout}
}

// Service grants, revokes, lists and parses tokens.
type Service struct {
	opts ServiceOpts
	envs map[string]Environment
}

func (o ServiceOpts) withDefaults() ServiceOpts {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 100 * time.Millisecond
	}
	return o
}

// NewService returns the token service.
func NewService(opts ServiceOpts) *Service {
	opts = opts.withDefaults()
	envs := make(map[string]Environment, len(opts.Environments))
	for _, e := range opts.Environments {
		envs[e.Name] = e
	}
	return &Service{opts: opts, envs: envs}
}

// Issued is a token just granted.
type Issued struct {
	// ID names the token in listings and revocations ("tok_…"); it is not secret.
	ID          string
	Token       string
	Environment string
	// Parsed is the token as Parse reads it: what Access Manager actually granted.
	Parsed *accessmanager.Token
}

// Grant asks Access Manager for a token on the tenant's environment keyset, signed with the
// keyset's current secret key, and records it for revocation. Returns tenants.ErrNotFound; a
// *tenants.StateError when the tenant is not active (also when it stopped being active while
// the grant ran); an *EnvironmentError; an *AccessManagerOffError; an
// *accessmanager.ValidationError for a request PubNub would refuse; and an *UpstreamError when
// Access Manager refuses or does not answer.
func (s *Service) Grant(ctx context.Context, externalID, environment string, req accessmanager.GrantRequest, actor string) (*Issued, error) {
	// req is validated by Client.Grant, before anything is sent: an *accessmanager.ValidationError
	// (an invalid.Fielder). The API has checked it already, from the words of its body
	// (accessmanager.GrantWords.Request); the second check costs microseconds.
	t, err := s.opts.Tenants.GetByExternalID(ctx, externalID)
	if err != nil {
		return nil, err
	}
	if !grantable(t.State) || t.Desired != tenants.DesiredActive {
		return nil, notActive(t.State)
	}
	ks, err := s.liveKeyset(t, environment)
	if err != nil {
		return nil, err
	}
	if !s.envs[environment].AccessManager {
		return nil, &AccessManagerOffError{Environment: environment}
	}
	var token string
	err = s.withKeys(t, ks, func(keys accessmanager.Keys) error {
		return s.upstream(ctx, "grant", func(ctx context.Context) error {
			var err error
			token, err = s.opts.Client.Grant(ctx, keys, req)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	parsed, err := accessmanager.Parse(token)
	if err != nil {
		return nil, fmt.Errorf("grant on %q/%s: the token Access Manager issued does not parse: %w", externalID, environment, err)
	}

	// Record it even if the caller has gone meanwhile: the token exists upstream, and only a
	// recorded token can be revoked.
	insCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	hash := HashToken(token)
	var (
		id    string
		state tenants.State
		gen   int
	)
	err = s.opts.Pool.QueryRow(insCtx, `
		INSERT INTO issued_tokens (id, token_hash, token_sealed, tenant_id, environment, authorized_user_id,
			ttl_minutes, issued_at, expires_at, lock_generation)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (token_hash) DO UPDATE SET grants = issued_tokens.grants + 1
			WHERE issued_tokens.tenant_id = EXCLUDED.tenant_id
		RETURNING id`,
		newID(), hash, s.opts.Keyring.Seal([]byte(token), TokenAAD(t.ID, hash)), t.ID, environment,
		nullable(parsed.AuthorizedUserID), parsed.TTL, parsed.IssuedAt, parsed.ExpiresAt, t.LockGeneration,
	).Scan(&id)
	if err != nil {
		return nil, fmt.Errorf("record token of %q/%s: %w", externalID, environment, err)
	}
	// Read the tenant after the token is recorded: a disable (or retirement) committed before
	// this read is seen here; one committed after it finds the recorded token when it revokes.
	// It stays a statement of its own, after the insert has committed: one statement (a CTE, a
	// subquery in RETURNING) reads with the snapshot taken before its insert commits, and a
	// batch runs both in one transaction that commits after the read, so a disable committing
	// in between would neither be seen nor see the token; a row lock on the tenant (FOR SHARE)
	// would keep the argument but write the tenant row on every grant.
	if state, gen, err = tenants.LockState(insCtx, s.opts.Pool, t.ID); err != nil {
		return nil, fmt.Errorf("record token of %q/%s: %w", externalID, environment, err)
	}
	// A disable (or a retirement) that committed while Access Manager answered: the token is
	// recorded under the generation it was granted in, so that lock's revocation takes it; the
	// caller gets none.
	if !grantable(state) || gen != t.LockGeneration {
		s.opts.Logger.WarnContext(ctx, "tenant changed while a grant ran; token left for revocation",
			"tenant_id", t.ID, "token_id", id, "state", state)
		if grantable(state) {
			state = tenants.StateDisabling
		}
		return nil, notActive(state)
	}
	// Grants are counted on the timeline per hour (MaintainWorker), not one by one.
	s.opts.Logger.DebugContext(ctx, "token granted", "tenant_id", t.ID, "environment", environment, "token_id", id, "actor", actor)
	return &Issued{ID: id, Token: token, Environment: environment, Parsed: parsed}, nil
}

// grantable reports whether a tenant in st may be granted tokens: active, or active and
// being changed (a rename, an environment added).
func grantable(st tenants.State) bool {
	return st == tenants.StateActive || st == tenants.StateUpdating
}

func notActive(st tenants.State) error {
	return &tenants.StateError{Action: "grant a token for", Current: st, Allowed: []tenants.State{tenants.StateActive}}
}

// liveKeyset returns the keyset of one of the tenant's current environments, provisioned: a
// retired environment grants no tokens. Returns an *EnvironmentError.
func (s *Service) liveKeyset(t *tenants.Tenant, environment string) (*tenants.Keyset, error) {
	if !slices.Contains(t.Environments, environment) {
		return nil, &EnvironmentError{Environment: environment, Known: slices.Clone(t.Environments)}
	}
	return s.keyset(t, environment)
}

// keyset returns the tenant's keyset of environment (retired or not), provisioned. Returns an
// *EnvironmentError.
func (s *Service) keyset(t *tenants.Tenant, environment string) (*tenants.Keyset, error) {
	for i := range t.Keysets {
		if t.Keysets[i].Environment == environment {
			ks := &t.Keysets[i]
			if ks.KeysetID == "" || ks.SubscribeKey == "" || len(ks.SecretKeySealed) == 0 {
				return nil, fmt.Errorf("keyset %s of tenant %d is not provisioned", environment, t.ID)
			}
			return ks, nil
		}
	}
	return nil, &EnvironmentError{Environment: environment, Known: slices.Clone(t.Environments)}
}

// withKeys unseals the keyset's current secret key and calls fn with the keys. The secret is
// not kept after fn returns, and no error holds it.
func (s *Service) withKeys(t *tenants.Tenant, ks *tenants.Keyset, fn func(accessmanager.Keys) error) error {
	secret, err := s.opts.Keyring.Open(ks.SecretKeySealed, tenants.SecretAAD(t.ID, ks.Environment))
	if err != nil {
		return fmt.Errorf("open secret key of tenant %d/%s: %w", t.ID, ks.Environment, err)
	}
	keys := accessmanager.Keys{SubscribeKey: ks.SubscribeKey, PublishKey: ks.PublishKey, SecretKey: accessmanager.Secret(secret)}
	clear(secret)
	return fn(keys)
}

// upstream runs call, retrying what accessmanager.IsRetryable takes (a 5xx, a 408, a transport
// failure: a timeout, a refused or reset connection; never a refusal, and never a 429, which
// asks for fewer calls: it goes back to the caller at once) up to Attempts times within
// CallTimeout, with a jittered exponential backoff. Every failure comes back as an
// *UpstreamError; input refused before sending (accessmanager.ErrInvalidArgument) as it is.
func (s *Service) upstream(ctx context.Context, op string, call func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	wait := s.opts.RetryBase
	for attempt := 1; ; attempt++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, accessmanager.ErrInvalidArgument) {
			return err
		}
		if !accessmanager.IsRetryable(err) || attempt >= s.opts.Attempts || ctx.Err() != nil {
			return &UpstreamError{Op: op, Attempts: attempt, Err: err}
		}
		s.opts.Logger.WarnContext(ctx, "access manager call failed; retrying", "op", op, "attempt", attempt, "err", err)
		timer := time.NewTimer(wait + time.Duration(mathrand.Int64N(int64(wait)/2+1)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return &UpstreamError{Op: op, Attempts: attempt, Err: err}
		case <-timer.C:
		}
		wait *= 2
	}
}

// Record is an issued token as listed: never the token itself.
type Record struct {
	ID               string
	Environment      string
	AuthorizedUserID string // "" when any user may use it
	TTL              int    // minutes
	IssuedAt         time.Time
	ExpiresAt        time.Time
	RevokedAt        *time.Time
}

// recordColumns are the issued_tokens columns of a Record that scanTargets takes, in order
// (revoked_at apart: not every query wants it). A NULL authorized user reads as "".
const recordColumns = `id, environment, coalesce(authorized_user_id, ''), ttl_minutes, issued_at, expires_at`

// scanTargets are the Scan destinations of recordColumns.
func (r *Record) scanTargets() []any {
	return []any{&r.ID, &r.Environment, &r.AuthorizedUserID, &r.TTL, &r.IssuedAt, &r.ExpiresAt}
}

// ListParams filter and page a listing.
type ListParams struct {
	Environment      string // "" for every environment
	AuthorizedUserID string // "" for every user
	Limit            int    // 1 to 200
	Cursor           string // a previous page's next cursor
}

// List returns the tenant's tokens that have not expired, revoked ones included, newest first
// (issued time, then ID), and the cursor of the next page ("" on the last). Returns
// tenants.ErrNotFound, or invalid.ErrCursor.
func (s *Service) List(ctx context.Context, externalID string, p ListParams) ([]Record, string, error) {
	t, err := s.opts.Tenants.GetByExternalID(ctx, externalID)
	if err != nil {
		return nil, "", err
	}
	var afterAt *time.Time
	afterID := ""
	if p.Cursor != "" {
		at, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		afterAt, afterID = &at, id
	}
	rows, err := s.opts.Pool.Query(ctx, `
		SELECT `+recordColumns+`, revoked_at
		FROM issued_tokens
		WHERE tenant_id = $1 AND expires_at > now()
		  AND ($2::text = '' OR environment = $2)
		  AND ($3::text = '' OR authorized_user_id = $3)
		  AND ($4::timestamptz IS NULL OR (issued_at, id) < ($4, $5))
		ORDER BY issued_at DESC, id DESC
		LIMIT $6`, t.ID, p.Environment, p.AuthorizedUserID, afterAt, afterID, p.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list tokens of %q: %w", externalID, err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
		var r Record
		err := row.Scan(append(r.scanTargets(), &r.RevokedAt)...)
		return r, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list tokens of %q: %w", externalID, err)
	}
	next := ""
	if len(list) > p.Limit {
		list = list[:p.Limit]
		last := list[len(list)-1]
		next = encodeCursor(last.IssuedAt, last.ID)
	}
	return list, next, nil
}

// Revoke revokes one token pnonboard issued for the tenant, named by its ID ("tok_…") or by
// the token itself, and records the revocation on the token and the tenant's timeline. A
// token already revoked, or expired, is left as it is (nil: it works no more either way).
// Revocation is allowed in any tenant state. Returns tenants.ErrNotFound, ErrTokenNotFound, a
// *NotRevocableError when the keyset has token revoke off or the token's TTL passes 30 days,
// and an *UpstreamError.
func (s *Service) Revoke(ctx context.Context, externalID, ref, actor string) error {
	t, err := s.opts.Tenants.GetByExternalID(ctx, externalID)
	if err != nil {
		return err
	}
	col, key := "token_hash", HashToken(ref)
	if ValidID(ref) {
		col, key = "id", ref
	}
	var (
		r      Record
		hash   string
		sealed []byte
	)
	err = s.opts.Pool.QueryRow(ctx, `
		SELECT `+recordColumns+`, revoked_at, token_hash, token_sealed
		FROM issued_tokens WHERE tenant_id = $1 AND `+col+` = $2`, t.ID, key).
		Scan(append(r.scanTargets(), &r.RevokedAt, &hash, &sealed)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrTokenNotFound
	}
	if err != nil {
		return fmt.Errorf("find token of %q: %w", externalID, err)
	}
	if r.RevokedAt != nil || !time.Now().Before(r.ExpiresAt) {
		return nil
	}
	if r.TTL > accessmanager.MaxRevocableTTL {
		return &NotRevocableError{Reason: ReasonTTLTooLong, Environment: r.Environment, TTL: r.TTL}
	}
	ks, err := s.keyset(t, r.Environment)
	if err != nil {
		return err
	}
	// A disable turns token revoke on (internal/provisioner), whatever the profile says.
	if !s.envs[r.Environment].TokenRevoke && !ks.AccessLocked {
		return &NotRevocableError{Reason: ReasonTokenRevokeOff, Environment: r.Environment, TTL: r.TTL}
	}
	token, err := s.opts.Keyring.Open(sealed, TokenAAD(t.ID, hash))
	if err != nil {
		return fmt.Errorf("open token %s: %w", r.ID, err)
	}
	err = s.withKeys(t, ks, func(keys accessmanager.Keys) error {
		return s.upstream(ctx, "revoke", func(ctx context.Context) error { return s.opts.Client.Revoke(ctx, keys, string(token)) })
	})
	clear(token)
	if err != nil {
		return err
	}
	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err = s.record(recCtx, t.ID, []Record{r}, actor, "")
	return err
}

// record marks tokens revoked (those not already) and puts one token_revoked entry per token
// on the tenant's timeline, in one transaction. It returns how many it marked.
func (s *Service) record(ctx context.Context, tenantID int64, revoked []Record, actor, reason string) (int, error) {
	ids := make([]string, len(revoked))
	byID := make(map[string]Record, len(revoked))
	for i, r := range revoked {
		ids[i], byID[r.ID] = r.ID, r
	}
	return postgres.WithTxV(ctx, s.opts.Pool, func(ctx context.Context, tx pgx.Tx) (int, error) {
		rows, err := tx.Query(ctx, `
			UPDATE issued_tokens SET revoked_at = now(), revoked_by = $3
			WHERE tenant_id = $1 AND id = ANY($2) AND revoked_at IS NULL
			RETURNING id`, tenantID, ids, actor)
		if err != nil {
			return 0, fmt.Errorf("record revocations of tenant %d: %w", tenantID, err)
		}
		done, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return 0, fmt.Errorf("record revocations of tenant %d: %w", tenantID, err)
		}
		slices.Sort(done)
		events := make([]tenants.Event, len(done))
		for i, id := range done {
			r := byID[id]
			detail := map[string]any{"tokenId": id, "environment": r.Environment, "expiresAt": r.ExpiresAt.UTC()}
			if r.AuthorizedUserID != "" {
				detail["authorizedUserId"] = r.AuthorizedUserID
			}
			if reason != "" {
				detail["reason"] = reason
			}
			events[i] = tenants.Event{Actor: actor, Action: tenants.ActionTokenRevoked, Detail: detail}
		}
		return len(done), tenants.AddEvents(ctx, tx, tenantID, events...)
	})
}

// Parse decodes a token locally (accessmanager.Parse): no upstream call, and no check that
// PubNub issued it, or that it is not expired or revoked.
func Parse(token string) (*accessmanager.Token, error) { return accessmanager.Parse(token) }

// HashToken is the lookup key of a token: its SHA-256, in hex.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// TokenAAD binds a sealed token to its tenant and hash.
func TokenAAD(tenantID int64, hash string) []byte {
	return []byte("access-token:" + strconv.FormatInt(tenantID, 10) + ":" + hash)
}

// idEncoding writes token IDs: lowercase base32 without padding.
func idEncoding() *base32.Encoding {
	return base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
}

// newID is a random token ID: "tok_" and 26 base32 characters (128 bits).
func newID() string {
	b := make([]byte, 16)
	_, _ = cryptorand.Read(b)
	return "tok_" + idEncoding().EncodeToString(b)
}

// ValidID reports whether s is shaped like a token ID. No token is: tokens are base64 of
// CBOR, far longer.
func ValidID(s string) bool {
	rest, ok := strings.CutPrefix(s, "tok_")
	if !ok || len(rest) != 26 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("tk:" + strconv.FormatInt(at.Unix(), 10) + ":" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", invalid.ErrCursor
	}
	rest, ok := strings.CutPrefix(string(b), "tk:")
	sec, id, found := strings.Cut(rest, ":")
	if !ok || !found || !ValidID(id) {
		return time.Time{}, "", invalid.ErrCursor
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n < 0 || n > 253402300799 {
		return time.Time{}, "", invalid.ErrCursor
	}
	return time.Unix(n, 0).UTC(), id, nil
}

package auth

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pnonboard/pnonboard/internal/invalid"
	"github.com/pnonboard/pnonboard/internal/postgres"
)

// Key format: "pno_" + 8 lookup characters + "_" + 43 characters of secret (32 random bytes,
// base64url). The first 12 characters ("pno_" + lookup) are the visible prefix: stored in the
// clear, shown in listings, and used to find the row; the hash of the whole key is compared in
// constant time.
const (
	keyPrefix   = "pno_"
	lookupLen   = 8
	secretBytes = 32
	keyLen      = len(keyPrefix) + lookupLen + 1 + 43
	lookupChars = "abcdefghijkmnpqrstuvwxyz23456789" // no 0/o/1/l: readable in a support ticket
	nameMaxLen  = 100
	touchEvery  = time.Minute // last_used_at is written at most this often per key
	// MaxKeyExpiry is the longest a key lives, and the default.
	MaxKeyExpiry = 365 * 24 * time.Hour
	// MinKeyExpiry is the shortest lifetime ParseExpiry accepts.
	MinKeyExpiry = time.Minute
)

// ExpiryRule is what a key lifetime may be, in the one wording every refusal uses.
const ExpiryRule = "a whole number of minutes, hours or days (30m, 12h, 90d), from 1m to 365d"

// Errors returned by Service.
var (
	// ErrUnauthenticated means the presented key is malformed, unknown, expired or revoked. It
	// deliberately does not say which.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrNotFound means no key has the given ID.
	ErrNotFound = errors.New("api key not found")
)

// ErrCannotGrant means a key tried to make a key with a scope it does not hold itself; the
// error is a *GrantError naming those scopes.
var ErrCannotGrant = errors.New("a key cannot grant scopes it does not hold")

// GrantError is ErrCannotGrant with the scopes the creating key lacks.
type GrantError struct{ Missing []Scope }

func (e *GrantError) Error() string {
	return fmt.Sprintf("%v: %s", ErrCannotGrant, strings.Join(scopeStrings(e.Missing), ", "))
}

func (e *GrantError) Is(target error) bool { return target == ErrCannotGrant }

// Key is an API key's record; the key itself is only ever returned by Create.
type Key struct {
	ID         string
	Prefix     string
	Name       string
	Scopes     []Scope
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

// Has reports whether the key carries scope.
func (k *Key) Has(scope Scope) bool { return slices.Contains(k.Scopes, scope) }

// Actor names who did something, for the audit trail: the key's ID and name.
func (k *Key) Actor() Actor { return Actor{KeyID: k.ID, Name: k.Name} }

// Actor identifies the caller behind a request. System work uses SystemActor.
type Actor struct {
	KeyID string
	Name  string
}

// String renders the actor as the timeline shows it: "key:<name> (<id>)", or the system name.
func (a Actor) String() string {
	if a.KeyID == "" {
		return a.Name
	}
	return fmt.Sprintf("key:%s (%s)", a.Name, a.KeyID)
}

// SystemActor is the actor for pnonboard's own work (workers, CLI).
func SystemActor(name string) Actor { return Actor{Name: name} }

type (
	actorKey struct{}
	keyKey   struct{}
)

// WithActor returns ctx carrying the authenticated actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// WithKey returns ctx carrying the authenticated key and its actor.
func WithKey(ctx context.Context, k *Key) context.Context {
	return context.WithValue(WithActor(ctx, k.Actor()), keyKey{}, k)
}

// KeyFrom returns the authenticated key in ctx, or nil outside a key-authenticated request.
func KeyFrom(ctx context.Context) *Key {
	k, _ := ctx.Value(keyKey{}).(*Key)
	return k
}

// ActorFrom returns the actor in ctx, or "unknown" outside an authenticated request.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return SystemActor("unknown")
}

// Service creates, lists, revokes and authenticates keys.
//
// Authenticate remembers a verified key for CacheTTL, so a busy partner backend costs one
// key lookup every few seconds instead of one per request. The price is bounded staleness:
// a revocation takes effect at once on the replica that made it, and within CacheTTL on the
// others; expiry is checked on every request against the cached expiry time.
type Service struct {
	pool  *pgxpool.Pool
	now   func() time.Time
	mu    sync.Mutex
	cache map[[sha256.Size]byte]cachedKey
}

// CacheTTL is how long a verified key is trusted without asking the database again.
const CacheTTL = 5 * time.Second

// maxCached bounds the cache; past it, the cache starts over (keys are few in practice).
const maxCached = 10_000

type cachedKey struct {
	key      *Key
	verified time.Time
}

// NewService returns a Service over pool. now may be nil (time.Now).
func NewService(pool *pgxpool.Pool, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{pool: pool, now: now, cache: map[[sha256.Size]byte]cachedKey{}}
}

// CreateParams describe a new key. ExpiresIn zero means the maximum, one year (or, for a key
// made by another key, until that key expires).
type CreateParams struct {
	Name      string
	Scopes    []Scope
	ExpiresIn time.Duration
	CreatedBy Actor
	// GrantedBy is the key making this one. A key grants only scopes it holds itself, and
	// makes keys that expire no later than it does; admin lets a key make keys at all, and
	// grants nothing else. Nil only for the operator's own tools (the CLI, dev mode), which
	// work next to the database and may grant any scope.
	GrantedBy *Key
}

// Create makes a key and returns its record and the key itself, which is not stored and
// cannot be shown again. Returns *invalid.Error for bad params, or *GrantError
// (ErrCannotGrant) when GrantedBy lacks a scope asked for.
func (s *Service) Create(ctx context.Context, p CreateParams) (*Key, string, error) {
	if err := CheckName(p.Name); err != nil {
		return nil, "", err
	}
	name := strings.TrimSpace(p.Name)
	switch {
	case len(p.Scopes) == 0:
		return nil, "", invalid.Field("scopes", "at least one scope is required")
	case p.ExpiresIn < 0 || p.ExpiresIn > MaxKeyExpiry:
		return nil, "", invalid.Field("expiresIn", "must be "+ExpiryRule)
	}
	scopes, err := ParseScopes(scopeStrings(p.Scopes)) // validated, deduplicated, canonical order
	if err != nil {
		return nil, "", invalid.Field("scopes", err.Error())
	}
	now := s.now().UTC()
	expiresAt := now.Add(cmp.Or(p.ExpiresIn, MaxKeyExpiry))
	if g := p.GrantedBy; g != nil {
		var missing []Scope
		for _, sc := range scopes {
			if !g.Has(sc) {
				missing = append(missing, sc)
			}
		}
		if len(missing) > 0 {
			return nil, "", &GrantError{Missing: missing}
		}
		switch {
		case p.ExpiresIn == 0 && expiresAt.After(g.ExpiresAt):
			expiresAt = g.ExpiresAt.UTC()
		case expiresAt.After(g.ExpiresAt):
			return nil, "", invalid.Field("expiresIn", "must not outlast the key making it, which expires at "+g.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	for attempt := 0; ; attempt++ {
		plaintext, prefix := newKey()
		sum := sha256.Sum256([]byte(plaintext))
		key, err := scanKey(s.pool.QueryRow(ctx, `
			INSERT INTO api_keys (prefix, hash, name, scopes, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			RETURNING `+keyColumns,
			prefix, sum[:], name, scopeStrings(scopes), p.CreatedBy.String(), now, expiresAt))
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && attempt < 3 { // prefix collision: ~1 in 10^12
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("insert api key: %w", err)
		}
		return key, plaintext, nil
	}
}

// CheckName is the rule for a key's name, the one the API and the CLI apply: not empty or
// only white space, at most 100 characters (as given, as JSON Schema counts maxLength), UTF-8
// text without control characters. Returns an *invalid.Error for field name, or nil.
func CheckName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return invalid.Field("name", "must not be empty or only white space")
	case utf8.RuneCountInString(name) > nameMaxLen:
		return invalid.Field("name", fmt.Sprintf("must be at most %d characters", nameMaxLen))
	case !isText(name):
		return invalid.Field("name", "must be UTF-8 text without control characters")
	}
	return nil
}

// List returns every key, newest first, revoked and expired included.
func (s *Service) List(ctx context.Context) ([]*Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*Key, error) { return scanKey(row) })
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return keys, nil
}

// Revoke revokes the key with id at once; revoking a revoked key changes nothing. Returns
// ErrNotFound for an unknown id.
func (s *Service) Revoke(ctx context.Context, id string) (*Key, error) {
	key, err := scanKey(s.pool.QueryRow(ctx, `
		UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2)
		WHERE id = $1 RETURNING `+keyColumns, id, s.now().UTC()))
	if errors.Is(err, pgx.ErrNoRows) || postgres.IsInvalidText(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("revoke api key: %w", err)
	}
	s.forget(key.ID)
	return key, nil
}

// forget drops a key from the cache: this replica stops accepting it at once.
func (s *Service) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sum, c := range s.cache {
		if c.key.ID == id {
			delete(s.cache, sum)
		}
	}
}

// Authenticate returns the live key matching token. Returns ErrUnauthenticated, without
// saying why, for a malformed, unknown, expired or revoked key.
func (s *Service) Authenticate(ctx context.Context, token string) (*Key, error) {
	prefix, ok := parseKey(token)
	if !ok {
		return nil, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(token))
	now := s.now()
	s.mu.Lock()
	c, hit := s.cache[sum]
	s.mu.Unlock()
	if hit && now.Sub(c.verified) < CacheTTL && now.Before(c.key.ExpiresAt) {
		return c.key, nil
	}
	var hash []byte
	key := &Key{}
	err := s.pool.QueryRow(ctx, `SELECT hash, `+keyColumns+` FROM api_keys WHERE prefix = $1`, prefix).
		Scan(append([]any{&hash}, key.fields()...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("look up api key: %w", err)
	}
	key.finish()
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 || key.RevokedAt != nil || !now.Before(key.ExpiresAt) {
		return nil, ErrUnauthenticated
	}
	if key.LastUsedAt == nil || now.Sub(*key.LastUsedAt) >= touchEvery {
		// Throttled: at most one write per key per minute, not one per request.
		// Best effort: bookkeeping must not turn a valid key into a failed request.
		_, _ = s.pool.Exec(context.WithoutCancel(ctx), `UPDATE api_keys SET last_used_at = $2 WHERE id = $1`, key.ID, now.UTC())
	}
	s.mu.Lock()
	if len(s.cache) >= maxCached {
		clear(s.cache)
	}
	s.cache[sum] = cachedKey{key: key, verified: now}
	s.mu.Unlock()
	return key, nil
}

const keyColumns = `id::text, prefix, name, scopes, created_by, created_at, expires_at, revoked_at, last_used_at`

type scanner interface{ Scan(dest ...any) error }

func (k *Key) fields() []any {
	return []any{&k.ID, &k.Prefix, &k.Name, &k.Scopes, &k.CreatedBy, &k.CreatedAt, &k.ExpiresAt, &k.RevokedAt, &k.LastUsedAt}
}

func (k *Key) finish() {
	k.CreatedAt, k.ExpiresAt = k.CreatedAt.UTC(), k.ExpiresAt.UTC()
	for _, t := range []*time.Time{k.RevokedAt, k.LastUsedAt} {
		if t != nil {
			*t = t.UTC()
		}
	}
}

func scanKey(row scanner) (*Key, error) {
	k := &Key{}
	if err := row.Scan(k.fields()...); err != nil {
		return nil, err
	}
	k.finish()
	return k, nil
}

func scopeStrings(scopes []Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

// newKey returns a fresh key and its visible prefix.
func newKey() (plaintext, prefix string) {
	lookup := make([]byte, lookupLen)
	for i := range lookup {
		lookup[i] = lookupChars[randIndex(len(lookupChars))]
	}
	secret := make([]byte, secretBytes)
	_, _ = rand.Read(secret) // never fails on supported platforms (Go 1.24+ crashes instead)
	prefix = keyPrefix + string(lookup)
	return prefix + "_" + base64.RawURLEncoding.EncodeToString(secret), prefix
}

func randIndex(n int) int {
	var b [1]byte
	for {
		_, _ = rand.Read(b[:])
		if int(b[0]) < 256-256%n { // reject to stay uniform
			return int(b[0]) % n
		}
	}
}

// parseKey checks a presented key's shape and returns its lookup prefix.
func parseKey(token string) (string, bool) {
	if len(token) != keyLen || !strings.HasPrefix(token, keyPrefix) || token[len(keyPrefix)+lookupLen] != '_' {
		return "", false
	}
	prefix := token[:len(keyPrefix)+lookupLen]
	for _, c := range prefix[len(keyPrefix):] {
		if !strings.ContainsRune(lookupChars, c) {
			return "", false
		}
	}
	if _, err := base64.RawURLEncoding.DecodeString(token[len(prefix)+1:]); err != nil {
		return "", false
	}
	return prefix, true
}

// ParseExpiry reads a key lifetime: a whole number of minutes, hours or days ("30m", "12h",
// "90d"; no sign, no leading zero, one unit), from MinKeyExpiry to MaxKeyExpiry. Returns an
// *invalid.Error for field expiresIn that says so in ExpiryRule's words.
func ParseExpiry(s string) (time.Duration, error) {
	bad := invalid.Field("expiresIn", "must be "+ExpiryRule)
	if len(s) < 2 || len(s) > 7 || s[0] == '0' {
		return 0, bad
	}
	digits, unit := s[:len(s)-1], s[len(s)-1]
	n := int64(0)
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, bad
		}
		n = n*10 + int64(c-'0') // at most six digits
	}
	perUnit := map[byte]int64{'m': 1, 'h': 60, 'd': 24 * 60}[unit]
	minutes := n * perUnit // at most 999999 days in minutes: far from overflowing
	if perUnit == 0 || minutes < int64(MinKeyExpiry/time.Minute) || minutes > int64(MaxKeyExpiry/time.Minute) {
		return 0, bad
	}
	d := time.Duration(minutes) * time.Minute
	return d, nil
}

// isText reports whether s is valid UTF-8 without control characters.
func isText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Browser sessions, for the support console. A person signs in by presenting an API key once;
// the key's scopes are then their rights for the session. The session ID is 32 random bytes,
// handed to the browser (in a cookie) and stored only as its SHA-256, like keys themselves.
//
// Every use reads the session together with its key, straight from the database (not through
// Authenticate's cache), so a key that is revoked or expires ends its sessions at their very
// next request, on every replica.
const (
	// SessionIdleTimeout ends a session that has not been used for this long.
	SessionIdleTimeout = 8 * time.Hour
	// SessionMaxAge ends a session this long after sign-in, however busy it is. A session also
	// ends no later than its key expires.
	SessionMaxAge = 24 * time.Hour

	sessionIDBytes    = 32
	sessionTouchEvery = time.Minute // last_seen_at is written at most this often per session
	maxClientAddrLen  = 100
)

// Session is a signed-in browser.
type Session struct {
	KeyID      string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the absolute end: SessionMaxAge after sign-in, or the key's expiry if sooner.
	ExpiresAt time.Time
}

// IdleExpiresAt is when the session ends unless it is used before then.
func (s *Session) IdleExpiresAt() time.Time {
	idle := s.LastSeenAt.Add(SessionIdleTimeout)
	if idle.Before(s.ExpiresAt) {
		return idle
	}
	return s.ExpiresAt
}

// StartSession checks token as Authenticate does and opens a session for its key. It returns
// the session, the key, and the session ID: the one value that proves the session, stored
// only as a hash, to be kept by the browser. clientAddr is recorded for the audit trail.
// Returns ErrUnauthenticated, without saying why, for a key Authenticate refuses.
func (s *Service) StartSession(ctx context.Context, token, clientAddr string) (*Session, *Key, string, error) {
	key, err := s.Authenticate(ctx, token)
	if err != nil {
		return nil, nil, "", err
	}
	now := s.now().UTC()
	sess := &Session{KeyID: key.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionMaxAge)}
	if key.ExpiresAt.Before(sess.ExpiresAt) {
		sess.ExpiresAt = key.ExpiresAt
	}
	if len(clientAddr) > maxClientAddrLen {
		clientAddr = clientAddr[:maxClientAddrLen]
	}
	raw := make([]byte, sessionIDBytes)
	_, _ = rand.Read(raw) // never fails on supported platforms
	id := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(id))
	// Sign-ins are rare: a good moment to forget sessions that have ended by time.
	if _, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $2`,
		now, now.Add(-SessionIdleTimeout)); err != nil {
		return nil, nil, "", fmt.Errorf("prune console sessions: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO console_sessions (id_hash, key_id, created_at, last_seen_at, expires_at, client_addr)
		VALUES ($1, $2, $3, $3, $4, $5)`, sum[:], key.ID, now, sess.ExpiresAt, clientAddr); err != nil {
		return nil, nil, "", fmt.Errorf("insert console session: %w", err)
	}
	return sess, key, id, nil
}

// SessionKey returns the live session with ID id and its key, and records that it was used.
// Returns ErrUnauthenticated, and deletes the session, when the ID is unknown, the session
// has been idle for SessionIdleTimeout or has passed its ExpiresAt, or its key has been revoked
// or has expired.
func (s *Service) SessionKey(ctx context.Context, id string) (*Session, *Key, error) {
	if !validSessionID(id) {
		return nil, nil, ErrUnauthenticated
	}
	sum := sha256.Sum256([]byte(id))
	sess, key := &Session{}, &Key{}
	err := s.pool.QueryRow(ctx, `
		SELECT s.key_id::text, s.created_at, s.last_seen_at, s.expires_at, k.*
		FROM console_sessions s
		CROSS JOIN LATERAL (SELECT `+keyColumns+` FROM api_keys WHERE api_keys.id = s.key_id) k
		WHERE s.id_hash = $1`, sum[:]).
		Scan(append([]any{&sess.KeyID, &sess.CreatedAt, &sess.LastSeenAt, &sess.ExpiresAt}, key.fields()...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, nil, fmt.Errorf("look up console session: %w", err)
	}
	key.finish()
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.LastSeenAt.UTC(), sess.ExpiresAt.UTC()
	now := s.now()
	if key.RevokedAt != nil || !now.Before(key.ExpiresAt) || !now.Before(sess.IdleExpiresAt()) {
		if err := s.endSession(ctx, sum[:]); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrUnauthenticated
	}
	if now.Sub(sess.LastSeenAt) >= sessionTouchEvery {
		// Best effort, like a key's last_used_at: bookkeeping must not fail a request. A lost
		// touch only brings the idle expiry a minute closer.
		if _, err := s.pool.Exec(context.WithoutCancel(ctx), `UPDATE console_sessions SET last_seen_at = $2 WHERE id_hash = $1`,
			sum[:], now.UTC()); err == nil {
			sess.LastSeenAt = now.UTC()
		}
	}
	return sess, key, nil
}

// EndSession ends the session with ID id (signing out). An unknown or already ended session
// is not an error.
func (s *Service) EndSession(ctx context.Context, id string) error {
	if !validSessionID(id) {
		return nil
	}
	sum := sha256.Sum256([]byte(id))
	return s.endSession(ctx, sum[:])
}

func (s *Service) endSession(ctx context.Context, hash []byte) error {
	if _, err := s.pool.Exec(context.WithoutCancel(ctx), `DELETE FROM console_sessions WHERE id_hash = $1`, hash); err != nil {
		return fmt.Errorf("end console session: %w", err)
	}
	return nil
}

// validSessionID reports whether id has the shape StartSession gives IDs.
func validSessionID(id string) bool {
	if len(id) != base64.RawURLEncoding.EncodedLen(sessionIDBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(id)
	return err == nil
}

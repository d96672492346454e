-- +goose Up
-- Support console sessions (internal/auth/session.go). A browser signs in by pasting an API key
-- once; the session ID then lives only in its cookie, and this table keeps the ID's SHA-256.
-- A session ends on sign-out, after 8 hours unused or 24 hours in all, and as soon as its key
-- is revoked or expires: the key is read with the session on every request. Deleting a key
-- deletes its sessions.
CREATE TABLE console_sessions (
    id_hash      bytea       PRIMARY KEY CHECK (octet_length(id_hash) = 32),
    key_id       uuid        NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    client_addr  text        NOT NULL DEFAULT '' CHECK (length(client_addr) <= 100)
);
CREATE INDEX console_sessions_key_id ON console_sessions (key_id);

-- +goose Down
DROP TABLE console_sessions;

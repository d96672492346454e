-- +goose Up
-- Access Manager v3 tokens pnonboard granted for its tenants (internal/tokens), kept so they
-- can be revoked: by a caller, or all at once when the tenant is disabled. The token itself is
-- never stored in the clear: token_hash (SHA-256, hex) finds it, token_sealed (internal/secrets,
-- bound to the tenant and the hash) is what a revocation sends upstream. Rows go once expired.
--
-- A grant writes one row and nothing else (it is on the partner's login path): identical grants
-- in the same second yield an identical token, so a repeat adds to grants instead of a row.
-- lock_generation is the tenant's at grant time: disable number G revokes every live token
-- granted before it (lock_generation < G), and none granted after a later enable.
CREATE TABLE issued_tokens (
    id                 text        PRIMARY KEY CHECK (id ~ '^tok_[a-z2-7]{26}$'),
    token_hash         text        NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    token_sealed       bytea       NOT NULL,
    tenant_id          bigint      NOT NULL REFERENCES tenants (id),
    environment        text        NOT NULL,
    authorized_user_id text,
    ttl_minutes        integer     NOT NULL CHECK (ttl_minutes BETWEEN 1 AND 43200),
    issued_at          timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    lock_generation    integer     NOT NULL,
    grants             integer     NOT NULL DEFAULT 1,
    created_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz,
    revoked_by         text,
    -- Why PubNub refused to revoke it during a disable (a permanent 400), so the job moves on.
    revoke_error       text
);
-- The listing: a tenant's tokens, newest first.
CREATE INDEX issued_tokens_tenant_idx ON issued_tokens (tenant_id, issued_at DESC, id DESC);
-- Revoke on disable: a tenant's live tokens of older generations.
CREATE INDEX issued_tokens_unrevoked_idx ON issued_tokens (tenant_id, lock_generation)
    WHERE revoked_at IS NULL AND revoke_error IS NULL;
-- Pruning after expiry, and the hourly grant counts of the timeline.
CREATE INDEX issued_tokens_expires_idx ON issued_tokens (expires_at);
CREATE INDEX issued_tokens_created_idx ON issued_tokens (created_at);

-- How far the timeline's grant counts have got: every row created before counted_until has
-- been counted into a tokens_granted timeline entry of its hour. One row.
CREATE TABLE issued_tokens_rollup (
    singleton     boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    counted_until timestamptz NOT NULL
);
INSERT INTO issued_tokens_rollup (counted_until) VALUES ('epoch');

-- +goose Down
DROP TABLE issued_tokens_rollup;
DROP TABLE issued_tokens;

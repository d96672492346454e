-- +goose Up
-- API keys for partner backends and support staff. The key itself is never stored: only its
-- SHA-256 hash, and a short visible prefix (also the lookup handle) to tell keys apart.
CREATE TABLE api_keys (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    prefix       text        NOT NULL UNIQUE,
    hash         bytea       NOT NULL CHECK (octet_length(hash) = 32),
    name         text        NOT NULL CHECK (name <> '' AND length(name) <= 100),
    scopes       text[]      NOT NULL,
    created_by   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- +goose Down
DROP TABLE api_keys;

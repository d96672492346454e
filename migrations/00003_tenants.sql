-- +goose Up
-- A tenant is a partner's customer, keyed by the partner's externalId. state is what
-- pnonboard has achieved upstream; desired_state is what callers asked for. The *_pending_at
-- columns are create-pending markers: set and committed before a non-idempotent upstream
-- create, cleared when its result is stored. A marker without an ID means "a create may have
-- happened: look for it before creating another".
CREATE TABLE tenants (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id         text        NOT NULL UNIQUE CHECK (external_id ~ '^[A-Za-z0-9_-]{1,255}$'),
    name                text        NOT NULL CHECK (name <> ''),
    environments        text[]      NOT NULL CHECK (cardinality(environments) BETWEEN 1 AND 5),
    metadata            jsonb       NOT NULL DEFAULT '{}',
    state               text        NOT NULL CHECK (state IN ('pending', 'provisioning', 'active', 'failed', 'disabling', 'disabled', 'enabling')),
    desired_state       text        NOT NULL CHECK (desired_state IN ('active', 'disabled')),
    app_id              text,
    app_pending_at      timestamptz,
    customer_id         text,
    customer_pending_at timestamptz,
    lock_generation     integer     NOT NULL DEFAULT 0,
    last_error          text,
    failed_step         text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    provisioned_at      timestamptz,
    disabled_at         timestamptz
);

-- Listing: newest first with a (created_at, id) cursor, optionally by state; prefix search.
CREATE INDEX tenants_created_idx ON tenants (created_at DESC, id DESC);
CREATE INDEX tenants_state_created_idx ON tenants (state, created_at DESC, id DESC);
CREATE INDEX tenants_external_id_prefix_idx ON tenants (external_id text_pattern_ops);
CREATE INDEX tenants_name_prefix_idx ON tenants (lower(name) text_pattern_ops);

-- One keyset per tenant environment, in the tenant's environment order.
CREATE TABLE tenant_keysets (
    tenant_id         bigint      NOT NULL REFERENCES tenants (id),
    environment       text        NOT NULL,
    position          smallint    NOT NULL,
    upstream_name     text        NOT NULL,
    keyset_type       text        NOT NULL CHECK (keyset_type IN ('testing', 'production')),
    keyset_id         text,
    create_pending_at timestamptz,
    publish_key       text,
    subscribe_key     text,
    secret_key_sealed bytea,
    assigned          boolean     NOT NULL DEFAULT false,
    access_locked     boolean     NOT NULL DEFAULT false,
    rotated_for       integer     NOT NULL DEFAULT 0,
    rotate_pending_at timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, environment),
    UNIQUE (tenant_id, position)
);

-- The timeline: every caller action, every step done upstream, every upstream error. It is
-- also the audit trail, so rows are only ever inserted.
CREATE TABLE tenant_events (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id bigint      NOT NULL REFERENCES tenants (id),
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor     text        NOT NULL,
    action    text        NOT NULL,
    detail    jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX tenant_events_tenant_idx ON tenant_events (tenant_id, id);

-- The shared upstream rate budget (docs/ARCHITECTURE.md, "The upstream rate budget"): one row
-- per upstream account, taken from atomically by every replica before every Admin API call.
-- This first form was a token bucket (tokens, updated_at); 00008_budget_window replaced it with
-- per-second call counts over the last 61 seconds, and those two columns are no longer read.
CREATE TABLE upstream_rate_budget (
    name          text             PRIMARY KEY,
    tokens        double precision NOT NULL,
    updated_at    timestamptz      NOT NULL,
    blocked_until timestamptz      NOT NULL DEFAULT 'epoch'
);

-- +goose Down
DROP TABLE upstream_rate_budget;
DROP TABLE tenant_events;
DROP TABLE tenant_keysets;
DROP TABLE tenants;

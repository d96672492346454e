-- +goose Up
-- Webhook endpoints registered by partners. The signing secret is sealed (internal/secrets);
-- during a rotation the previous secret keeps signing beside the new one until it expires.
CREATE TABLE webhook_endpoints (
    id                         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    url                        text        NOT NULL,
    description                text        NOT NULL DEFAULT '',
    event_types                text[]      NOT NULL DEFAULT '{}', -- empty: every type
    enabled                    boolean     NOT NULL DEFAULT true,
    secret_sealed              bytea       NOT NULL,
    previous_secret_sealed     bytea,
    previous_secret_expires_at timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);

-- The event outbox: written in the transaction of the change that caused the event. id is the
-- Standard Webhooks webhook-id; seq orders the public listing.
CREATE TABLE events (
    id                 text        PRIMARY KEY,
    seq                bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    type               text        NOT NULL,
    tenant_id          bigint      REFERENCES tenants (id),
    tenant_external_id text,
    payload            json        NOT NULL, -- json, not jsonb: delivered byte for byte as written
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_created_idx ON events (created_at);
CREATE INDEX events_type_seq_idx ON events (type, seq);
CREATE INDEX events_tenant_seq_idx ON events (tenant_external_id, seq);

-- One delivery per event and subscribed endpoint, and every attempt made at it.
CREATE TABLE webhook_deliveries (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    seq              bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    endpoint_id      uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         text        NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    status           text        NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, seq DESC);

CREATE TABLE webhook_attempts (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id      uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at     timestamptz NOT NULL,
    status_code      integer,
    duration_ms      integer     NOT NULL,
    error            text,
    response_excerpt text
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE events;
DROP TABLE webhook_endpoints;

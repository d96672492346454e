-- +goose Up
-- Usage per tenant for cost allocation (issue 15), synced from PubNub's usage metrics by
-- internal/usage. environment is '' for the tenant's app (its whole usage) and an environment
-- name for one keyset's. Rows are kept 13 months (the usage_prune job deletes older ones).

-- One row per tenant, environment, day (UTC) and metric: the value PubNub reported for that day.
-- updated_at moves only when a re-read changes the value (a late revision upstream).
CREATE TABLE usage_daily (
    tenant_id   bigint           NOT NULL REFERENCES tenants (id),
    environment text             NOT NULL,
    day         date             NOT NULL,
    metric      text             NOT NULL,
    value       double precision NOT NULL,
    updated_at  timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, environment, day, metric)
);
-- Rows arrive roughly in day order, so a BRIN index finds the old ones for pruning cheaply.
CREATE INDEX usage_daily_day_brin ON usage_daily USING brin (day);

-- The month's figure per tenant, environment and metric, kept in step with usage_daily in the
-- same transaction: a sum of the days, the last day's value for mtd_* (cumulative month to
-- date), or the mean for averages and ratios. The monthly report reads only this table.
CREATE TABLE usage_monthly (
    tenant_id   bigint           NOT NULL REFERENCES tenants (id),
    environment text             NOT NULL,
    month       date             NOT NULL CHECK (extract(day FROM month) = 1),
    metric      text             NOT NULL,
    value       double precision NOT NULL,
    PRIMARY KEY (tenant_id, environment, month, metric)
);

-- Where the sync stands per tenant and environment: every configured metric (metrics) is
-- stored through synced_through. A failed call backs off until retry_after.
CREATE TABLE usage_sync_state (
    tenant_id      bigint      NOT NULL REFERENCES tenants (id),
    environment    text        NOT NULL,
    metrics        text[]      NOT NULL DEFAULT '{}',
    synced_through date,
    synced_at      timestamptz,
    failures       integer     NOT NULL DEFAULT 0,
    last_error     text,
    retry_after    timestamptz,
    PRIMARY KEY (tenant_id, environment)
);

-- +goose Down
DROP TABLE usage_sync_state;
DROP TABLE usage_monthly;
DROP TABLE usage_daily;

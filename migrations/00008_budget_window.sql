-- +goose Up
-- The rate budget counts calls per second over the last 61 seconds (and the reservations made
-- ahead) instead of a token bucket, so a window's room can go at once while no 60 seconds hold
-- more than the limit; it remembers what PubNub's X-RateLimit headers last said, and which
-- classes of calls are waiting. tokens and updated_at are no longer read; they stay until a
-- later release so that replicas of the previous one keep working during a rolling deploy.
ALTER TABLE upstream_rate_budget
    ADD COLUMN ring_start         bigint        NOT NULL DEFAULT 0,
    ADD COLUMN calls              integer[]     NOT NULL DEFAULT '{}',
    ADD COLUMN background_calls   integer[]     NOT NULL DEFAULT '{}',
    ADD COLUMN grant_seq          bigint        NOT NULL DEFAULT 0,
    ADD COLUMN observed_seq       bigint        NOT NULL DEFAULT 0,
    ADD COLUMN observed_limit     integer       NOT NULL DEFAULT 0,
    ADD COLUMN observed_remaining integer       NOT NULL DEFAULT 0,
    ADD COLUMN observed_reset_at  timestamptz   NOT NULL DEFAULT 'epoch',
    ADD COLUMN headers_seen_at    timestamptz   NOT NULL DEFAULT 'epoch',
    ADD COLUMN demand_until       timestamptz[] NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE upstream_rate_budget
    DROP COLUMN ring_start, DROP COLUMN calls, DROP COLUMN background_calls, DROP COLUMN grant_seq,
    DROP COLUMN observed_seq, DROP COLUMN observed_limit, DROP COLUMN observed_remaining,
    DROP COLUMN observed_reset_at, DROP COLUMN headers_seen_at, DROP COLUMN demand_until;

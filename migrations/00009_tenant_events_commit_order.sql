-- +goose Up
-- The tenant timeline (GET /v1/tenants/{id}/events) pages by a cursor. Its identity id is
-- handed out at insert, not at commit, so an event whose transaction committed late could land
-- behind a cursor already handed out, and a reader paging the timeline would never see it.
-- Like events (00005), each row now records its transaction: the timeline lists in (xid, id)
-- order, and hands out a cursor only at a row older than every transaction still running.
-- Existing rows all get this migration's xid and keep their id order.
ALTER TABLE tenant_events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX tenant_events_tenant_xid_idx ON tenant_events (tenant_id, xid, id);

-- +goose Down
DROP INDEX tenant_events_tenant_xid_idx;
ALTER TABLE tenant_events DROP COLUMN xid;

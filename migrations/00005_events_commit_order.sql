-- +goose Up
-- GET /v1/events pages by a cursor. seq is handed out at insert, not at commit, so a slow
-- transaction could commit an event behind a cursor that had already passed its seq, and a
-- receiver catching up would never see it. Each event now records its transaction, and the
-- listing only shows events whose transaction is older than every transaction still running,
-- in (xid, seq) order: once shown past, nothing new can appear behind the cursor.
ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_xid_seq_idx ON events (xid, seq);

-- +goose Down
DROP INDEX events_xid_seq_idx;
ALTER TABLE events DROP COLUMN xid;

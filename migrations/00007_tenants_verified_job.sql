-- +goose Up
-- The reconcile job that last confirmed upstream that everything a tenant holds is its own.
-- A later job reads what it holds back before using it (the provisioner's verify step), so
-- an app or keyset that upstream now says is someone else's is never used or assigned.
ALTER TABLE tenants ADD COLUMN verified_job bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE tenants DROP COLUMN verified_job;

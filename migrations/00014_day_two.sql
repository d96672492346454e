-- +goose Up
-- Day two: tenants change after provisioning (renamed, environments added and retired), and a
-- drift check compares what upstream holds with what pnonboard made.

-- A tenant in the middle of such a change.
ALTER TABLE tenants DROP CONSTRAINT tenants_state_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_state_check
    CHECK (state IN ('pending', 'provisioning', 'active', 'failed', 'disabling', 'disabled', 'enabling', 'updating'));

-- When upstream last confirmed that what the tenant holds is its own (its job made it, or a
-- verification or drift check read it back). A job trusts holdings confirmed within a day and
-- reads older ones back first; this replaces "the job that confirmed them".
ALTER TABLE tenants DROP COLUMN verified_job;
ALTER TABLE tenants ADD COLUMN verified_at timestamptz;
UPDATE tenants SET verified_at = updated_at WHERE app_id IS NOT NULL;

-- The customer's name as last set upstream: a rename is pending while it differs from name.
ALTER TABLE tenants ADD COLUMN customer_name text;
UPDATE tenants SET customer_name = name WHERE customer_id IS NOT NULL;
-- An assignment sent and not yet confirmed (the leak-safe marker for assign).
ALTER TABLE tenants ADD COLUMN assign_pending_at timestamptz;
-- A repair asked the app's name back.
ALTER TABLE tenants ADD COLUMN app_rename_pending boolean NOT NULL DEFAULT false;
-- What the last drift check found (a JSON array of {kind, resource, expected, actual,
-- detectedAt}; empty when in sync), and when it ran.
ALTER TABLE tenants ADD COLUMN drift jsonb NOT NULL DEFAULT '[]';
ALTER TABLE tenants ADD COLUMN last_checked_at timestamptz;
CREATE INDEX tenants_drifted_idx ON tenants (created_at DESC, id DESC) WHERE drift <> '[]';

-- A keyset whose environment was removed is retired: locked as a disable locks it, and kept
-- (PubNub documents no unassign). rotate_for is the lock generation its secret must have been
-- rotated for (per keyset now: retiring one keyset rotates that one only).
ALTER TABLE tenant_keysets ADD COLUMN retired_at timestamptz;
ALTER TABLE tenant_keysets ADD COLUMN rotate_for integer NOT NULL DEFAULT 0;
UPDATE tenant_keysets k SET rotate_for = t.lock_generation FROM tenants t WHERE t.id = k.tenant_id;
ALTER TABLE tenant_keysets ADD COLUMN rename_pending boolean NOT NULL DEFAULT false;
-- When the drift check last read this keyset's configuration (locked keysets are read a few
-- at a time, oldest first).
ALTER TABLE tenant_keysets ADD COLUMN config_checked_at timestamptz;
-- The drift run that last saw this keyset (and the tenant's app) in PubNub's listings.
ALTER TABLE tenant_keysets ADD COLUMN seen_run bigint NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN app_seen_run bigint NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN customer_seen_run bigint NOT NULL DEFAULT 0;
-- A check of this one tenant asked for (by an operator, or by the drift sweep when the
-- listings disagree with what the tenant holds): 'operator' or 'sweep'.
ALTER TABLE tenants ADD COLUMN check_requested text CHECK (check_requested IN ('operator', 'sweep'));
CREATE INDEX tenant_keysets_keyset_id_idx ON tenant_keysets (keyset_id) WHERE keyset_id IS NOT NULL;
CREATE INDEX tenants_app_id_idx ON tenants (app_id) WHERE app_id IS NOT NULL;
CREATE INDEX tenants_customer_id_idx ON tenants (customer_id) WHERE customer_id IS NOT NULL;

-- Environments can be reordered: positions swap within one statement.
ALTER TABLE tenant_keysets DROP CONSTRAINT tenant_keysets_tenant_id_position_key;
ALTER TABLE tenant_keysets ADD CONSTRAINT tenant_keysets_tenant_id_position_key
    UNIQUE (tenant_id, position) DEFERRABLE INITIALLY IMMEDIATE;

-- One pass of the drift sweep: it reads PubNub's listings a page at a time, and records how
-- far it got, so a sweep cut short (a snooze for the budget, a crash) resumes where it was.
CREATE TABLE drift_runs (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    phase       text        NOT NULL DEFAULT 'customers'
                CHECK (phase IN ('customers', 'apps', 'keysets', 'configs', 'settle', 'done')),
    next_page   integer     NOT NULL DEFAULT 1,
    calls       integer     NOT NULL DEFAULT 0,
    suspects    integer     NOT NULL DEFAULT 0,
    finished_at timestamptz
);

-- A Prefer: wait on a check is woken when the check is done, as a create is by its state.
DROP TRIGGER tenant_state_notify ON tenants;
CREATE TRIGGER tenant_state_notify AFTER UPDATE OF state, check_requested ON tenants
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.check_requested IS DISTINCT FROM NEW.check_requested)
    EXECUTE FUNCTION pnonboard_tenant_state_notify();

-- +goose Down
DROP TRIGGER tenant_state_notify ON tenants;
CREATE TRIGGER tenant_state_notify AFTER UPDATE OF state ON tenants
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION pnonboard_tenant_state_notify();
DROP TABLE drift_runs;
ALTER TABLE tenant_keysets DROP CONSTRAINT tenant_keysets_tenant_id_position_key;
ALTER TABLE tenant_keysets ADD CONSTRAINT tenant_keysets_tenant_id_position_key UNIQUE (tenant_id, position);
DROP INDEX tenants_customer_id_idx;
ALTER TABLE tenants DROP COLUMN check_requested, DROP COLUMN customer_seen_run;
DROP INDEX tenants_app_id_idx;
DROP INDEX tenant_keysets_keyset_id_idx;
ALTER TABLE tenants DROP COLUMN app_seen_run;
ALTER TABLE tenant_keysets DROP COLUMN seen_run, DROP COLUMN config_checked_at, DROP COLUMN rename_pending,
    DROP COLUMN rotate_for, DROP COLUMN retired_at;
DROP INDEX tenants_drifted_idx;
ALTER TABLE tenants DROP COLUMN last_checked_at, DROP COLUMN drift, DROP COLUMN app_rename_pending,
    DROP COLUMN assign_pending_at, DROP COLUMN customer_name, DROP COLUMN verified_at;
ALTER TABLE tenants ADD COLUMN verified_job bigint NOT NULL DEFAULT 0;
ALTER TABLE tenants DROP CONSTRAINT tenants_state_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_state_check
    CHECK (state IN ('pending', 'provisioning', 'active', 'failed', 'disabling', 'disabled', 'enabling'));

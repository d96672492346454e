-- +goose Up
-- Every change of a tenant's state is announced on the channel pnonboard_tenant_state with
-- the tenant's ID, at commit: a Prefer: wait create listens instead of polling the row. A
-- trigger, so that no writer can change a state without waking its waiters.
-- +goose StatementBegin
CREATE FUNCTION pnonboard_tenant_state_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pnonboard_tenant_state', NEW.id::text);
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER tenant_state_notify AFTER UPDATE OF state ON tenants
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION pnonboard_tenant_state_notify();

-- +goose Down
DROP TRIGGER tenant_state_notify ON tenants;
DROP FUNCTION pnonboard_tenant_state_notify();

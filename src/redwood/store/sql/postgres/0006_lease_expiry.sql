-- Redwood schema for PostgreSQL, migration 0006: a lease ends at its expiry, not only when
-- another worker claims the execution.

-- redwood_fence with the write's time: besides a stale token, it refuses a write made after the
-- lease expired (RW001), even if nobody claimed the execution yet. A holder whose renewals failed
-- (a database restart, a long pause) could otherwise record results under an expired lease and
-- run its next step while a new holder, claiming a moment later, runs that step too.
-- The two-argument version stays for workers of the previous release during an upgrade.
CREATE FUNCTION redwood_fence(execution text, token bigint, at double precision) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    held record;
BEGIN
    SELECT lease_token, status, cancel_requested, lease_expires_at INTO held
        FROM executions WHERE id = execution FOR UPDATE;
    IF NOT FOUND OR held.lease_token <> token OR held.status <> 'RUNNING'
            OR held.lease_expires_at IS NULL OR held.lease_expires_at <= at THEN
        RAISE EXCEPTION 'lease token % of execution "%" is stale or expired', token, execution
            USING ERRCODE = 'RW001';
    END IF;
    RETURN held.cancel_requested;
END
$$;

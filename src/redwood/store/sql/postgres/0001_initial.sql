-- Redwood schema for PostgreSQL, migration 0001 (the mirror of sqlite/0001_initial.sql).
-- Timestamps are epoch seconds in double precision, as in SQLite, so both stores hand the engine
-- the same floats.

-- executions: one row per run of a durable function. ready_at drives the scheduler: it is the
-- moment the execution next needs an invocation (NULL when finished or waiting on the outside
-- world only). While a worker holds the lease, ready_at equals the lease expiry, so an expired
-- lease makes the execution claimable again without a separate scan.
CREATE TABLE executions (
    id                  text PRIMARY KEY,
    function            text NOT NULL,
    status              text NOT NULL,
    input               text,
    result              text,
    error               text,
    created_at          double precision NOT NULL,
    ended_at            double precision,
    ready_at            double precision,
    lease_owner         text,
    lease_expires_at    double precision,
    lease_token         bigint NOT NULL DEFAULT 0,
    wake_pending        boolean NOT NULL DEFAULT false,
    cancel_requested    boolean NOT NULL DEFAULT false,
    parent_execution_id text,
    parent_operation_id text,
    timeout_at          double precision,
    invocations         integer NOT NULL DEFAULT 0
);
CREATE INDEX executions_ready ON executions (ready_at) WHERE ready_at IS NOT NULL;
CREATE INDEX executions_created ON executions (created_at, id);
CREATE INDEX executions_function ON executions (function, created_at);
CREATE INDEX executions_status ON executions (status, created_at);
CREATE INDEX executions_parent ON executions (parent_execution_id)
    WHERE parent_execution_id IS NOT NULL;

-- operations: the journal. One row per durable call of an execution, keyed by its
-- deterministic operation id; seq is the order in which the operations were first recorded.
CREATE TABLE operations (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id text NOT NULL,
    id           text NOT NULL,
    parent_id    text,
    type         text NOT NULL,
    subtype      text,
    name         text,
    status       text NOT NULL,
    attempt      integer NOT NULL DEFAULT 0,
    result       text,
    error        text,
    due_at       double precision,
    started_at   double precision,
    ended_at     double precision,
    details      text,
    UNIQUE (execution_id, id)
);

-- history: the append-only event log, in the AWS execution history vocabulary.
CREATE TABLE history (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id text NOT NULL,
    type         text NOT NULL,
    subtype      text,
    operation_id text,
    parent_id    text,
    name         text,
    timestamp    double precision NOT NULL,
    details      text
);
CREATE INDEX history_execution ON history (execution_id, id);

-- redwood_fence: the lease check that opens every journal write. It locks the execution's row
-- (so no claim or cancel can slip in before the write commits) and refuses a stale lease token
-- with SQLSTATE RW001, which aborts the rest of the batch: nothing of a refused write lands.
-- Returns whether a cancel was requested meanwhile.
CREATE FUNCTION redwood_fence(execution text, token bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    held record;
BEGIN
    SELECT lease_token, status, cancel_requested INTO held
        FROM executions WHERE id = execution FOR UPDATE;
    IF NOT FOUND OR held.lease_token <> token OR held.status <> 'RUNNING' THEN
        RAISE EXCEPTION 'lease token % of execution "%" is stale', token, execution
            USING ERRCODE = 'RW001';
    END IF;
    RETURN held.cancel_requested;
END
$$;

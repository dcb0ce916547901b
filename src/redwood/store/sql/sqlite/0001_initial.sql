-- Redwood schema for SQLite, migration 0001.

-- executions: one row per run of a durable function. ready_at drives the scheduler: it is the
-- moment the execution next needs an invocation (NULL when finished or waiting on the outside
-- world only). While a worker holds the lease, ready_at equals the lease expiry, so an expired
-- lease makes the execution claimable again without a separate scan.
CREATE TABLE executions (
    id                  TEXT PRIMARY KEY,
    function            TEXT NOT NULL,
    status              TEXT NOT NULL,
    input               TEXT,
    result              TEXT,
    error               TEXT,
    created_at          REAL NOT NULL,
    ended_at            REAL,
    ready_at            REAL,
    lease_owner         TEXT,
    lease_expires_at    REAL,
    lease_token         INTEGER NOT NULL DEFAULT 0,
    wake_pending        INTEGER NOT NULL DEFAULT 0,
    cancel_requested    INTEGER NOT NULL DEFAULT 0,
    parent_execution_id TEXT,
    parent_operation_id TEXT,
    timeout_at          REAL,
    invocations         INTEGER NOT NULL DEFAULT 0
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
    seq          INTEGER PRIMARY KEY,
    execution_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    parent_id    TEXT,
    type         TEXT NOT NULL,
    subtype      TEXT,
    name         TEXT,
    status       TEXT NOT NULL,
    attempt      INTEGER NOT NULL DEFAULT 0,
    result       TEXT,
    error        TEXT,
    due_at       REAL,
    started_at   REAL,
    ended_at     REAL,
    details      TEXT,
    UNIQUE (execution_id, id)
);

-- history: the append-only event log, in the AWS execution history vocabulary.
CREATE TABLE history (
    id           INTEGER PRIMARY KEY,
    execution_id TEXT NOT NULL,
    type         TEXT NOT NULL,
    subtype      TEXT,
    operation_id TEXT,
    parent_id    TEXT,
    name         TEXT,
    timestamp    REAL NOT NULL,
    details      TEXT
);
CREATE INDEX history_execution ON history (execution_id, id);

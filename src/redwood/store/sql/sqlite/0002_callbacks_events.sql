-- Redwood schema for SQLite, migration 0002: callback ids and the event inbox.

-- The outside world answers a callback by its id alone (Client.callback_success...). The id is
-- kept in the details of its CALLBACK operation; this index finds it there, and keeps it unique
-- across every execution.
CREATE UNIQUE INDEX operations_callback_id ON operations (json_extract(details, '$.callback_id'))
    WHERE type = 'CALLBACK';

-- inbox: named events sent to executions (Client.send_event), kept until a wait_for_event takes
-- them, oldest first. consumed_by is the operation that received the event (NULL while it still
-- waits in the inbox); consumed rows stay, so one can see who got what.
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY,
    execution_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    payload      TEXT,
    sent_at      REAL NOT NULL,
    consumed_by  TEXT,
    consumed_at  REAL
);
CREATE INDEX inbox_waiting ON inbox (execution_id, id) WHERE consumed_by IS NULL;

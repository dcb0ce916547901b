-- Redwood schema for PostgreSQL, migration 0002: callback ids and the event inbox (mirror of
-- sqlite/0002_callbacks_events.sql).

-- The outside world answers a callback by its id alone (Client.callback_success...). The id is
-- kept in the details of its CALLBACK operation; this index finds it there, and keeps it unique
-- across every execution. Queries must spell the expression the same way to use the index.
CREATE UNIQUE INDEX operations_callback_id ON operations (((details::jsonb) ->> 'callback_id'))
    WHERE type = 'CALLBACK';

-- inbox: named events sent to executions (Client.send_event), kept until a wait_for_event takes
-- them, oldest first. consumed_by is the operation that received the event (NULL while it still
-- waits in the inbox); consumed rows stay, so one can see who got what.
CREATE TABLE inbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id text NOT NULL,
    name         text NOT NULL,
    payload      text,
    sent_at      double precision NOT NULL,
    consumed_by  text,
    consumed_at  double precision
);
CREATE INDEX inbox_waiting ON inbox (execution_id, id) WHERE consumed_by IS NULL;

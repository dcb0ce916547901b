-- Redwood schema for PostgreSQL, migration 0005: what each waiting execution is blocked on.

-- executions.blocked_on: the wait the engine recorded when the last invocation released the
-- execution (timer, callback, event, children, retry); NULL once finished. Whether a worker runs
-- it now, it is ready, or its worker died follows from the lease columns at read time and takes
-- precedence, so an outside wake-up (a callback, an event) never has to rewrite this column.
-- The index serves the list view's blocked-on filter, newest first, with keyset paging.
ALTER TABLE executions ADD COLUMN blocked_on TEXT;
CREATE INDEX executions_blocked ON executions (blocked_on, created_at, id)
    WHERE blocked_on IS NOT NULL;

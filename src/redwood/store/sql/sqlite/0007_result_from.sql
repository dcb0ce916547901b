-- Redwood schema for SQLite, migration 0007: a result is stored once.

-- history.result_from: where the result an event shows is kept, when it shows one that is
-- recorded elsewhere: 'operation' (the event's operation row, e.g. StepSucceeded) or 'execution'
-- (the execution's row, ExecutionSucceeded). The event's details then leave the result out and
-- history reads join it back, so a large step result is written (and fsync'd) once, not twice.
-- NULL: the details hold everything the event shows (as every event written before this one).
ALTER TABLE history ADD COLUMN result_from TEXT;

-- Redwood schema for SQLite, migration 0006: a lease ends at its expiry, not only when another
-- worker claims the execution. Nothing to change here: the SQLite store reads the lease expiry
-- with the token in the read that fences every write (store/sqlite.py), where PostgreSQL needs
-- a new redwood_fence. The version stays in step with PostgreSQL's.
SELECT 1;

-- Redwood schema for SQLite, migration 0004: the workers table.

-- workers: one row per worker that announced itself. Each heartbeat (at start, with every lease
-- renewal, and at stop) rewrites info and moves alive_until one lease ahead; a worker whose
-- alive_until has passed is dead or stopped, and its leases lapse with it.
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    info         TEXT NOT NULL,
    started_at   REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    alive_until  REAL NOT NULL
);
CREATE INDEX workers_alive ON workers (alive_until);

-- Redwood schema for PostgreSQL, migration 0004: the workers table (mirror of sqlite/0004).

-- workers: one row per worker that announced itself. Each heartbeat (at start, with every lease
-- renewal, and at stop) rewrites info and moves alive_until one lease ahead; a worker whose
-- alive_until has passed is dead or stopped, and its leases lapse with it.
CREATE TABLE workers (
    id           text PRIMARY KEY,
    info         text NOT NULL,
    started_at   double precision NOT NULL,
    heartbeat_at double precision NOT NULL,
    alive_until  double precision NOT NULL
);
CREATE INDEX workers_alive ON workers (alive_until);

"""The commit floor: one durable commit of one small insert, on the same disk or server.

A Redwood execution cannot be faster than the commits it needs (DESIGN.md, performance model);
W1 reports its ratio to (commits per execution) x (median commit), with the commits timed in
rounds interleaved with W1's own, so that both see the same load.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

try:  # the "postgres" extra; only needed when PostgreSQL is measured
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]


class Probe(Protocol):
    """Makes one durable commit per call."""

    how: str

    def commit(self) -> None: ...

    def close(self) -> None: ...


class SQLiteProbe:
    """A SQLite file in ``directory``: WAL, synchronous=FULL, one small insert per commit.

    The probe starts in the steady state of a store that has been running: its write-ahead log
    already recycled once. A fresh log grows with every commit, and a growing file costs the
    file system an extra metadata flush per commit (about twice the time on this kind of disk),
    which would make the floor look slower than what the store's own commits pay.
    """

    how = ("SQLite WAL (already recycled once), synchronous=FULL, one small insert, "
           "same directory as the store")

    def __init__(self, directory: Path) -> None:
        self.path = directory / "commit-floor.db"
        self._connection = sqlite3.connect(self.path, isolation_level=None,
                                           check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode = WAL")
        self._connection.execute("PRAGMA synchronous = FULL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, note TEXT)")
        self._n = 0
        # One commit appends one page to the log; a checkpoint past the limit lets the next
        # commits overwrite the log from its start instead of growing it.
        pages = self._connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        for _ in range(pages + 10):
            self.commit()

    def commit(self) -> None:
        self._n += 1
        self._connection.execute("BEGIN IMMEDIATE")
        self._connection.execute("INSERT INTO floor (note) VALUES (?)", (f"commit {self._n}",))
        self._connection.execute("COMMIT")

    def close(self) -> None:
        self._connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class PostgresProbe:
    """The PostgreSQL server at ``url``: one small insert per transaction, the server's own
    durability settings (synchronous_commit as configured)."""

    how = "PostgreSQL, one small insert per transaction, same server and database"

    def __init__(self, url: str, table: str = "redwood_bench_floor") -> None:
        if psycopg is None:
            raise RuntimeError("measuring PostgreSQL needs psycopg: "
                               "pip install 'redwood[postgres]'")
        self._table = table
        self._connection = psycopg.connect(url, autocommit=True)
        self._connection.execute(f"CREATE TABLE IF NOT EXISTS {table} "
                                 "(id BIGSERIAL PRIMARY KEY, note TEXT)")
        self._connection.autocommit = False
        self._n = 0

    def commit(self) -> None:
        self._n += 1
        self._connection.execute(f"INSERT INTO {self._table} (note) VALUES (%s)",
                                 (f"commit {self._n}",))
        self._connection.commit()

    def close(self) -> None:
        self._connection.autocommit = True
        self._connection.execute(f"DROP TABLE IF EXISTS {self._table}")
        self._connection.close()


def commit_rate(url: str, connections: int, seconds: float) -> float:
    """Commits per second from ``connections`` threads, each committing one small insert per
    transaction in a loop on a connection of its own, for ``seconds``: what the server and this
    machine allow before any engine runs (the server groups concurrent commits)."""
    # A table of its own: closing these probes drops it, and other probes may still be open.
    probes = [PostgresProbe(url, "redwood_bench_rate") for _ in range(connections)]
    counts = [0] * connections
    gate = threading.Barrier(connections + 1)
    stop = threading.Event()

    def commit(index: int) -> None:
        gate.wait()
        while not stop.is_set():
            probes[index].commit()
            counts[index] += 1

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    try:
        gate.wait()
        began = time.perf_counter()
        stop.wait(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    finally:
        stop.set()
        for one in probes:
            one.close()
    return sum(counts) / elapsed


def probe(backend: str, database: str, scratch: Path) -> Probe:
    """The probe for a store: beside the SQLite file, or on the same PostgreSQL database."""
    return SQLiteProbe(scratch) if backend == "sqlite" else PostgresProbe(database)

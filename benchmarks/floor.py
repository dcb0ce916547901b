"""The commit floor: one durable commit of one small insert, on the same disk or server.

A Redwood execution cannot be faster than the commits it needs (DESIGN.md, performance model);
W1 reports its ratio to (commits per execution) x (median commit).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.stats import Summary

try:  # the "postgres" extra; only needed when PostgreSQL is measured
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]


def _timed(commit: Callable[[int], None], count: int) -> Summary:
    samples = []
    for i in range(count):
        t0 = time.perf_counter()
        commit(i)
        samples.append(time.perf_counter() - t0)
    return Summary.of_seconds(samples)


def sqlite_commit(directory: Path, count: int) -> Summary:
    """Median commit of a SQLite file in ``directory``: WAL, synchronous=FULL, one small insert."""
    path = directory / "commit-floor.db"
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, note TEXT)")

        def commit(i: int) -> None:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO floor (note) VALUES (?)", (f"commit {i}",))
            connection.execute("COMMIT")

        for i in range(min(20, count)):
            commit(i)
        return _timed(commit, count)
    finally:
        connection.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


def postgres_commit(url: str, count: int) -> Summary:
    """Median commit on the PostgreSQL server at ``url``: one small insert per transaction,
    the server's own durability settings (synchronous_commit as configured)."""
    if psycopg is None:
        raise RuntimeError("measuring PostgreSQL needs psycopg: pip install 'redwood[postgres]'")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS redwood_bench_floor "
                           "(id BIGSERIAL PRIMARY KEY, note TEXT)")
        connection.autocommit = False

        def commit(i: int) -> None:
            connection.execute("INSERT INTO redwood_bench_floor (note) VALUES (%s)",
                               (f"commit {i}",))
            connection.commit()

        try:
            for i in range(min(20, count)):
                commit(i)
            return _timed(commit, count)
        finally:
            connection.autocommit = True
            connection.execute("DROP TABLE IF EXISTS redwood_bench_floor")

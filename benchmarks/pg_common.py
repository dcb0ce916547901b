"""What the PostgreSQL benchmarks share: a scratch database, CPU accounting of the server's
backends and of the machine, and where results go."""

from __future__ import annotations

import json
import os
import platform
import shlex
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from benchmarks import report

SERVER = os.environ.get("REDWOOD_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
RESULTS = Path(__file__).parent / "results"
T = TypeVar("T")


def server_of(url: str | None) -> str:
    """The server part of a database URL (``SERVER`` when there is none)."""
    if url is None:
        return SERVER
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="", query="", fragment=""))


@contextmanager
def scratch_database(prefix: str, given: str | None = None) -> Iterator[str]:
    """A new empty database for one benchmark run (dropped afterwards); yields its URL. With
    ``given``, that database instead, left as it is (the smoke tests pass theirs)."""
    if given is not None:
        yield given
        return
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{SERVER}/{name}"
    finally:
        wait_for_server(SERVER)
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def wait_for_server(server: str = SERVER, timeout: float = 180.0) -> None:
    """Return once the server accepts connections (at once when it is up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(f"{server}/postgres", connect_timeout=5):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def redo_after_restart(measure: Callable[[], T], what: str, notes: list[str],
                       server: str = SERVER, attempts: int = 3) -> T:
    """``measure()``, measured again when the server restarted meanwhile: other jobs on a
    shared machine restart it, and a measurement across a restart measured the restart."""
    for attempt in range(1, attempts + 1):
        wait_for_server(server)
        started = server_started(server)
        try:
            result = measure()
        except Exception:
            wait_for_server(server)
            if server_started(server) == started or attempt == attempts:
                raise
        else:
            if server_started(server) == started:
                return result
            if attempt == attempts:
                raise RuntimeError(f"{what}: the server restarted during each of {attempts} tries")
        notes.append(f"{what}: the PostgreSQL server restarted during the measurement (another "
                     "job on this machine); measured again.")
        print(f"   {what}: the server restarted; measuring again", flush=True)
    raise AssertionError("unreachable")


def committed_transactions(url: str) -> int:
    """The server's count of committed transactions in the database of ``url`` (pg_stat)."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        row = admin.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s",
                            (name,)).fetchone()
    return int(row[0]) if row else 0


class Census:
    """Counts executions by status over one connection of its own: cheap enough to poll while
    workers run (one index scan), unlike listing them through the client."""

    def __init__(self, url: str) -> None:
        self._connection = psycopg.connect(url, autocommit=True)
        self.pid = self._connection.info.backend_pid

    def count(self, since: float, status: str) -> int:
        """Executions created at or after ``since`` that have ``status`` now."""
        row = self._connection.execute(
            "SELECT count(*) FROM executions WHERE status = %s AND created_at >= %s",
            (status, since)).fetchone()
        return int(row[0]) if row else 0

    def sleeping(self, since: float) -> int:
        """Executions created at or after ``since`` that wait for a timer with no lease held."""
        row = self._connection.execute(
            "SELECT count(*) FROM executions WHERE status = 'RUNNING' AND created_at >= %s"
            " AND lease_owner IS NULL AND invocations > 0 AND ready_at IS NOT NULL",
            (since,)).fetchone()
        return int(row[0]) if row else 0

    def wake_ups(self, since: float) -> list[tuple[float, float, float]]:
        """For each finished sleeper created at or after ``since``: when the step after its
        wait ran (its result), the wait's scheduled end, and when the wait was recorded."""
        rows = self._connection.execute(
            "SELECT e.result::float8, (h.details::json ->> 'scheduled_end')::float8,"
            " h.timestamp FROM executions e JOIN history h ON h.execution_id = e.id"
            " AND h.type = 'WaitStarted' WHERE e.created_at >= %s AND e.status = 'SUCCEEDED'",
            (since,)).fetchall()
        return [(float(woke), float(due), float(at)) for woke, due, at in rows]

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


def backend_pids(url: str) -> list[int]:
    """The server processes serving connections to the database of ``url`` (this one's too)."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{server_of(url)}/postgres", autocommit=True) as admin:
        rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                             (name,)).fetchall()
    return [int(row[0]) for row in rows]


def process_cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still alive (PostgreSQL runs on this host)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # Fields 14 and 15 of /proc/PID/stat (utime, stime); [0] here is field 3.
        found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def machine_cpu_seconds() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine since boot (all cores, /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    ticks = os.sysconf("SC_CLK_TCK")
    return (total - idle) / ticks, total / ticks


def machine(server: str = SERVER) -> dict[str, Any]:
    """Where the figures were measured."""
    with psycopg.connect(f"{server}/postgres") as admin:
        row = admin.execute("SHOW server_version").fetchone()
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "postgres": row[0] if row else "?", "platform": platform.platform()}


def server_started(server: str = SERVER) -> str:
    """When the PostgreSQL server last started: other jobs on a shared machine restart it, and
    a run during which it changed measured a restart, not Redwood."""
    with psycopg.connect(f"{server}/postgres") as admin:
        row = admin.execute("SELECT pg_postmaster_start_time()::text").fetchone()
    return str(row[0]) if row else "?"


def meta(plan: str, command: list[str], server: str = SERVER) -> dict[str, Any]:
    """Where and how a run happened, for ``report.write`` (``finish`` fills in the end)."""
    return {**report.meta(plan, shlex.join(command), **machine(server)),
            "server_started": server_started(server)}


def finish(info: dict[str, Any], server: str = SERVER) -> None:
    """Fill in the end of a run: the load after it, and when the server last started (each
    measurement was taken again if it restarted meanwhile: ``redo_after_restart``)."""
    report.finish(info)
    info["server_started_after"] = server_started(server)


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``data`` to benchmarks/results/<name>.json and return the path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path

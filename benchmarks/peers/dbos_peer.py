"""Run the DBOS versions of W1-W3 (SQLite and PostgreSQL system databases) in child processes,
configured for the same durability as Redwood's default."""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from benchmarks import fanout
from benchmarks.model import Figure
from benchmarks.registry import Plan

try:  # the "postgres" extra
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

PEER_WORKLOADS = {"W1", "W2", "W3"}
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/redwood_bench_dbos"


def sqlite_system_database(directory: Path) -> str:
    """A fresh DBOS system database file in WAL mode: with SQLite's default synchronous=FULL
    that is Redwood's default durability (DBOS's own default is a rollback journal, also FULL)."""
    path = directory / "dbos.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
    return f"sqlite:///{path}"


def postgres_system_database(databases: list[str]) -> str:
    """Redwood's PostgreSQL server with a database of DBOS's own, dropped first (fresh state)."""
    url = next((d for d in databases if d.startswith("postgres")), DEFAULT_POSTGRES)
    parts = urlsplit(url)
    name = (parts.path.strip("/") or "redwood_bench") + "_dbos"
    if url == DEFAULT_POSTGRES:
        name = "redwood_bench_dbos"
    admin = urlunsplit(parts._replace(path="/postgres"))
    assert psycopg is not None
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return urlunsplit(parts._replace(path=f"/{name}"))


def run(plan: Plan, databases: list[str], only: set[str],
        scratch_root: Path) -> tuple[list[Figure], list[str]]:
    """DBOS's figures, and notes on what was skipped and why."""
    notes: list[str] = []
    if importlib.util.find_spec("dbos") is None:
        return [], ["DBOS skipped: install the 'bench' extra (pip install -e '.[bench]')."]
    wanted = (only & PEER_WORKLOADS) if only else PEER_WORKLOADS
    if not wanted:
        return [], []
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="dbos-", suffix=".tmp", dir=scratch_root) as scratch:
        urls = [sqlite_system_database(Path(scratch))]
        try:
            urls.append(postgres_system_database(databases))
        except Exception as error:
            notes.append(f"DBOS on PostgreSQL skipped: {type(error).__name__}: {error}")
        for url in urls:
            figures += _child(plan, url, wanted, notes)
    return figures, notes


def _child(plan: Plan, url: str, wanted: set[str], notes: list[str]) -> list[Figure]:
    print(f"\n== DBOS on {url}", flush=True)
    command = [sys.executable, "-m", "benchmarks.peers.dbos_workloads",
               "--system-database-url", url, "--plan", plan.name,
               "--only", ",".join(sorted(wanted))]
    if fanout.MAP_AVAILABLE:
        command.append("--fan-out")
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        notes.append(f"DBOS on {url} FAILED: {done.stderr.strip().splitlines()[-1:]}")
        print(done.stderr, file=sys.stderr)
        return []
    figures = [Figure.from_dict(row) for row in json.loads(done.stdout.strip().splitlines()[-1])]
    for figure in figures:
        print(f"dbos     {figure.backend:10} {figure.workload:5} {figure.metric:38} "
              f"{figure.value:9.3f} {figure.unit}", flush=True)
    return figures

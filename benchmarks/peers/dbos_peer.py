"""DBOS as a contender: a child process per system database (SQLite, PostgreSQL), configured
for the same durability as Redwood's default."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from benchmarks import fanout
from benchmarks.contenders import Remote
from benchmarks.registry import ROOT

try:  # the "postgres" extra
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

SYSTEM = "dbos"
WORKLOADS = {"W1", "W2", "W3"}
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/redwood_bench"


def missing() -> str | None:
    """Why DBOS cannot run here, or None."""
    if importlib.util.find_spec("dbos") is None:
        return "DBOS skipped: install the 'bench' extra (pip install -e '.[bench]')."
    return None


def sqlite_system_database(directory: Path) -> str:
    """A fresh DBOS system database file in WAL mode: with SQLite's default synchronous=FULL
    that is Redwood's default durability (DBOS's own default, a rollback journal, is also
    FULL, but slower per commit)."""
    path = directory / "dbos.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
    return f"sqlite:///{path}"


def postgres_system_database(databases: list[str]) -> str:
    """The PostgreSQL server Redwood uses (or the local one), with a database of DBOS's own
    named after Redwood's plus ``_dbos``, dropped first so each run starts fresh."""
    url = next((d for d in databases if d.startswith("postgres")), DEFAULT_POSTGRES)
    parts = urlsplit(url)
    name = (parts.path.strip("/") or "redwood_bench") + "_dbos"
    if psycopg is None:
        raise RuntimeError("psycopg is missing (the 'postgres' extra)")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return urlunsplit(parts._replace(path=f"/{name}"))


def start(backend: str, databases: list[str], scratch: Path) -> Remote:
    """A DBOS child process on a fresh system database of this kind."""
    if backend == "sqlite":
        url = sqlite_system_database(scratch)
    else:
        url = postgres_system_database(databases)
    print(f"   (DBOS on {url})", flush=True)
    command = [sys.executable, "-m", "benchmarks.peers.dbos_workloads",
               "--system-database-url", url]
    if fanout.MAP_AVAILABLE:
        command.append("--fan-out")
    return Remote(SYSTEM, command, cwd=str(ROOT))

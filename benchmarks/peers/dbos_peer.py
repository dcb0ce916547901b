"""DBOS as a contender: a child process per system database (SQLite, PostgreSQL), configured
for the same durability as Redwood's default."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path

from benchmarks import pg
from benchmarks.contenders import Remote
from benchmarks.registry import ROOT

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
    redwood = next((d for d in databases if d.startswith("postgres")), DEFAULT_POSTGRES)
    url = pg.sibling(redwood, "_dbos")
    pg.drop_database(url)
    return url


def start(backend: str, databases: list[str], scratch: Path) -> Remote:
    """A DBOS child process on a fresh system database of this kind."""
    if backend == "sqlite":
        url = sqlite_system_database(scratch)
    else:
        url = postgres_system_database(databases)
    print(f"   (DBOS on {url})", flush=True)
    # W2 fans out on both sides: ctx.map for Redwood, concurrent steps for DBOS.
    command = [sys.executable, "-m", "benchmarks.peers.dbos_workloads",
               "--system-database-url", url, "--fan-out"]
    return Remote(SYSTEM, command, cwd=str(ROOT))

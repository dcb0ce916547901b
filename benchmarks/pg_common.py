"""What the PostgreSQL benchmarks share: a scratch database, and where results go."""

from __future__ import annotations

import json
import os
import platform
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

SERVER = os.environ.get("REDWOOD_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
RESULTS = Path(__file__).parent / "results"


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new empty database for one benchmark run (dropped afterwards); yields its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{SERVER}/{name}"
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def committed_transactions(url: str) -> int:
    """The server's count of committed transactions in the database of ``url`` (pg_stat)."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        row = admin.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s",
                            (name,)).fetchone()
    return int(row[0]) if row else 0


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    with psycopg.connect(f"{SERVER}/postgres") as admin:
        row = admin.execute("SHOW server_version").fetchone()
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "postgres": row[0] if row else "?", "platform": platform.platform()}


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``data`` to benchmarks/results/<name>.json and return the path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path

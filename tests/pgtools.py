"""A throwaway PostgreSQL database per test session, so parallel runs never share data.

With REDWOOD_REQUIRE_POSTGRES=1 an unreachable server fails the tests that need it; otherwise
they are skipped (a laptop without PostgreSQL can still run the SQLite suite).
"""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
from psycopg import sql

SERVER = os.environ.get("REDWOOD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def admin_url(database: str = "postgres") -> str:
    """A URL of ``database`` on the test server."""
    return f"{SERVER}/{database}"


def require_server() -> None:
    """Fail (REDWOOD_REQUIRE_POSTGRES=1) or skip the test when the server is unreachable."""
    try:
        with psycopg.connect(admin_url(), connect_timeout=5):
            return
    except psycopg.OperationalError as error:
        message = f"PostgreSQL at {SERVER} is unreachable: {error}"
    if os.environ.get("REDWOOD_REQUIRE_POSTGRES") == "1":
        pytest.fail(message + " (REDWOOD_REQUIRE_POSTGRES=1: PostgreSQL tests must run)")
    pytest.skip(message)


def create_database(prefix: str = "redwood_test") -> str:
    """A new empty database named after this process; returns its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url(), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return admin_url(name)


def drop_database(url: str) -> None:
    """Drop the database, closing whatever connections are still open on it."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url(), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def empty_tables(url: str) -> None:
    """Remove every row (the schema stays), so each test starts from an empty store."""
    with psycopg.connect(url, autocommit=True) as connection:
        tables = [row[0] for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tablename <> 'schema_version'")]
        if tables:
            connection.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in tables)))

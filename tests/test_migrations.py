"""Schema migrations: applying them one by one, or upgrading an older database, yields the current
schema; both dialects keep the same tables and columns; many processes may migrate at once."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

import pgtools
from redwood.cli.db import db
from redwood.store import postgres, sqlite
from redwood.store.migrations import latest_version, migrations
from redwood.store.postgres import PostgresStore
from redwood.store.sqlite import SQLiteStore


@pytest.fixture
def fresh_database(postgres_database: str) -> Iterator[Callable[[], str]]:
    """Makes empty PostgreSQL databases (dropped after the test)."""
    made: list[str] = []

    def make() -> str:
        made.append(pgtools.create_database("redwood_migrate"))
        return made[-1]

    yield make
    for url in made:
        pgtools.drop_database(url)


def test_postgres_upgrade_from_the_first_migration_yields_the_current_schema(
    fresh_database: Callable[[], str],
) -> None:
    current, old = fresh_database(), fresh_database()
    with closing(PostgresStore(current)) as store:  # every migration at once
        expected = store.schema()
    with psycopg.connect(old, autocommit=True) as connection:
        assert postgres.migrate(connection, target=1) == (0, 1)
    with closing(PostgresStore(old)) as store:
        assert store.schema_versions == (1, latest_version("postgres"))
        assert store.schema() == expected
    assert any(name == "function redwood_fence" for name, _ in expected)


def test_sqlite_upgrade_from_the_first_migration_yields_the_current_schema(
    tmp_path: Path,
) -> None:
    with closing(SQLiteStore(tmp_path / "current.db")) as store:
        expected = store.schema()
    connection = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    assert sqlite.migrate(connection, target=1) == (0, 1)
    connection.close()
    with closing(SQLiteStore(tmp_path / "old.db")) as store:
        assert store.schema_versions == (1, latest_version("sqlite"))
        assert store.schema() == expected


def test_both_dialects_have_the_same_tables_and_columns(
    tmp_path: Path, postgres_url: str
) -> None:
    with closing(SQLiteStore(tmp_path / "s.db")):
        pass
    connection = sqlite3.connect(tmp_path / "s.db")
    tables = [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")]
    in_sqlite = {table: {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
                 for table in tables}
    connection.close()
    in_postgres: dict[str, set[str]] = {}
    with psycopg.connect(postgres_url) as pg:
        for table, column in pg.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"):
            in_postgres.setdefault(table, set()).add(column)
    assert in_postgres == in_sqlite
    assert latest_version("postgres") == latest_version("sqlite")


def test_many_processes_may_migrate_a_new_database_at_once(
    fresh_database: Callable[[], str],
) -> None:
    url = fresh_database()
    versions: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def open_and_close() -> None:
        try:
            start.wait()
            with closing(PostgresStore(url)) as store:
                versions.append(store.schema_versions)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=open_and_close) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    latest = latest_version("postgres")
    assert sorted(versions) == [(0, latest)] + [(latest, latest)] * 5
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT version FROM schema_version ORDER BY version")
        assert [row[0] for row in rows] == [m.version for m in migrations("postgres")]


def test_db_upgrade_command_applies_pending_migrations_once(
    fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    url = fresh_database()
    runner = CliRunner()
    first = runner.invoke(db, ["upgrade", "--database", url])
    assert first.exit_code == 0, first.output
    assert f"upgraded from version 0 to {latest_version('postgres')}" in first.output
    again = runner.invoke(db, ["upgrade"], env={"REDWOOD_DATABASE_URL": url})
    assert again.exit_code == 0, again.output
    assert f"already at version {latest_version('postgres')}" in again.output
    path = tmp_path / "cli.db"
    local = runner.invoke(db, ["upgrade", "--database", str(path)])
    assert local.exit_code == 0 and "upgraded from version 0" in local.output


def test_db_upgrade_of_an_unreachable_database_says_which(tmp_path: Path) -> None:
    url = "postgresql://nobody:secret@127.0.0.1:1/none"
    result = CliRunner().invoke(db, ["upgrade", "--database", url])
    assert result.exit_code == 1
    assert "Cannot upgrade postgresql://nobody:***@127.0.0.1:1/none" in result.output
    assert "secret" not in result.output

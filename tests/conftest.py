"""Shared fixtures: real SQLite files in a temp dir, the real PostgreSQL server, a manual clock,
and an app wired to them.

A test's app is on SQLite; in a module (or on a test) marked ``every_store`` it runs on each
store in STORES instead, so one test proves the same behaviour from every store (a test marked
``sqlite_only`` in such a module stays on SQLite).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pgtools
from redwood import App, ManualClock
from redwood.store.postgres import PostgresStore


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "redwood.db"


# Store-independent behaviour runs on each store listed here: the tests marked every_store, and
# the AWS tests (aws_app).
STORES = ["sqlite", "postgres"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marked = metafunc.definition.get_closest_marker
    if "store_kind" in metafunc.fixturenames and marked("every_store") and not marked(
            "sqlite_only"):
        metafunc.parametrize("store_kind", STORES, indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """The store of the test's app: SQLite, or each of STORES for tests marked every_store."""
    return getattr(request, "param", "sqlite")


def database_of(kind: str, request: pytest.FixtureRequest, db_path: Path) -> str | Path:
    """The database a test's app on store ``kind`` opens (PostgreSQL: emptied for the test)."""
    if kind == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return db_path


@pytest.fixture
def open_app(
    request: pytest.FixtureRequest, store_kind: str, db_path: Path, clock: ManualClock
) -> Iterator[Callable[..., App]]:
    """Opens apps on the test's store with the test's clock and the given App settings; closes
    them after the test."""
    database = database_of(store_kind, request, db_path)
    opened: list[App] = []

    def open_one(**settings: Any) -> App:
        opened.append(App(database, clock=clock, **settings))
        return opened[-1]

    yield open_one
    for application in opened:
        application.close()


@pytest.fixture
def app(open_app: Callable[..., App]) -> App:
    return open_app()


@pytest.fixture(params=[False, True], ids=["replay-on-resume", "always-replay"])
def any_app(request: pytest.FixtureRequest, open_app: Callable[..., App]) -> App:
    """The app twice: as usual, and with always_replay (suspend and replay after every step),
    so one test proves both modes give the same results."""
    return open_app(always_replay=request.param)


def wait_until(
    predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        # Not a sleep to wait for something to happen: a back-off between checks of it.
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


# --- PostgreSQL: one database per test session (see pgtools.py) --------------------------------


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this test session, with the current schema."""
    pgtools.require_server()
    url = pgtools.create_database()
    try:
        PostgresStore(url).close()  # migrates
        yield url
    finally:
        pgtools.drop_database(url)


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    pgtools.empty_tables(postgres_database)
    return postgres_database


@pytest.fixture(params=STORES)
def aws_app(request: pytest.FixtureRequest, db_path: Path, clock: ManualClock) -> Iterator[App]:
    """An app on each store, with the test's manual clock."""
    application = App(database_of(request.param, request, db_path), clock=clock)
    yield application
    application.close()

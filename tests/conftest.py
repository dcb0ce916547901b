"""Shared fixtures: real SQLite files in a temp dir, a manual clock, and an app wired to both."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

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


@pytest.fixture
def app(db_path: Path, clock: ManualClock) -> Iterator[App]:
    application = App(db_path, clock=clock)
    yield application
    application.close()


@pytest.fixture(params=[False, True], ids=["replay-on-resume", "always-replay"])
def any_app(request: pytest.FixtureRequest, db_path: Path, clock: ManualClock) -> Iterator[App]:
    """The app twice: as usual, and with always_replay (suspend and replay after every step),
    so one test proves both modes give the same results."""
    application = App(db_path, clock=clock, always_replay=request.param)
    yield application
    application.close()


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


# Store-independent behaviour (e.g. redwood.aws) runs on each store listed here. PostgreSQL joins
# once its store implements callbacks, events and trees (work in progress on branch pg-parity).
STORES = ["sqlite"]


@pytest.fixture(params=STORES)
def aws_app(request: pytest.FixtureRequest, db_path: Path, clock: ManualClock) -> Iterator[App]:
    """An app on each store, with the test's manual clock."""
    if request.param == "postgres":
        application = App(request.getfixturevalue("postgres_url"), clock=clock)
    else:
        application = App(db_path, clock=clock)
    yield application
    application.close()

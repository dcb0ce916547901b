"""Shared fixtures: real SQLite files in a temp dir, a manual clock, and an app wired to both."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from redwood import App, ManualClock


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


# Store-independent behaviour (e.g. redwood.aws) runs on each store this build has.
STORES = ["sqlite"] + (["postgres"] if importlib.util.find_spec("redwood.store.postgres") else [])


@pytest.fixture(params=STORES)
def aws_app(request: pytest.FixtureRequest, db_path: Path, clock: ManualClock) -> Iterator[App]:
    """An app on each store, with the test's manual clock."""
    if request.param == "postgres":
        application = App(request.getfixturevalue("postgres_url"), clock=clock)
    else:
        application = App(db_path, clock=clock)
    yield application
    application.close()

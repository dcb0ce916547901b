"""Shared pieces of the redwood.aws tests: an app per store, and helpers to drive executions."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from redwood import App, ExecutionHandle, ManualClock, Operation
from redwood.aws import history as aws_history

# Every redwood.aws behaviour runs on each store this build has.
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


def drain(app: App) -> int:
    """Run everything ready until it waits again."""
    return app.worker().drain()


def run(app: App, function: str, payload: Any, execution_id: str) -> ExecutionHandle[Any]:
    """Start an execution and run it until it ends or waits."""
    handle = app.start(function, payload, id=execution_id)
    drain(app)
    return handle


def ops_named(handle: ExecutionHandle[Any], name: str) -> list[Operation]:
    """The journal entries with this name."""
    return [op for op in handle.operations() if op.name == name]


def aws_events(app: App, execution_id: str) -> list[dict[str, Any]]:
    """The execution's history as GetDurableExecutionHistory returns it."""
    return aws_history.events(app, execution_id)


def event_types(app: App, execution_id: str) -> list[str]:
    """The AWS history's event types, in order."""
    return [event["EventType"] for event in aws_events(app, execution_id)]

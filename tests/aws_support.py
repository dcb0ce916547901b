"""Shared pieces of the redwood.aws tests: an app per store, and helpers to drive executions."""

from __future__ import annotations

from typing import Any

from redwood import App, ExecutionHandle, Operation
from redwood.aws import history as aws_history


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

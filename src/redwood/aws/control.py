"""The control plane in the AWS shape: describe, history pages and lists of executions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redwood.app import App
from redwood.aws import arn, convert, history
from redwood.aws.register import function_resolver
from redwood.errors import UnknownFunction, ValidationError
from redwood.model import Execution, ExecutionFilter
from redwood.types import ExecutionStatus


def function_name(app: App, target: str) -> str:
    """The registered name of an AWS function name or ARN (UnknownFunction when none)."""
    name = function_resolver(app.registry)(target)
    return app.registry.get(name).name


def summary(execution: Execution) -> dict[str, Any]:
    """An execution as ListDurableExecutionsByFunction shows it."""
    shaped: dict[str, Any] = {
        "DurableExecutionArn": arn.execution_arn(execution.id, execution.function),
        "DurableExecutionName": execution.id,
        "FunctionArn": arn.function_arn(execution.function),
        "Status": execution.status.value,
        "StartTimestamp": execution.created_at,
    }
    if execution.ended_at is not None:
        shaped["EndTimestamp"] = execution.ended_at
    return shaped


def describe(app: App, execution_id: str, include_data: bool = True) -> dict[str, Any]:
    """GetDurableExecution: the execution, its input and its outcome."""
    execution = app.engine.get(execution_id)
    shaped = summary(execution)
    shaped["Version"] = arn.VERSION
    shaped["ExecutionDataIncluded"] = include_data
    if include_data:
        if execution.input is not None:
            shaped["InputPayload"] = execution.input
        if execution.result is not None:
            shaped["Result"] = execution.result
        if execution.error is not None:
            shaped["Error"] = convert.to_error_object(execution.error).to_dict()
    if execution.timeout_at is not None:
        shaped["ExpectedExecutionTimeoutTimestamp"] = execution.timeout_at
        shaped["DurableConfig"] = {
            "ExecutionTimeout": round(execution.timeout_at - execution.created_at)}
    return shaped


def history_page(
    app: App, execution_id: str, *, include_data: bool, marker: str | None, max_items: int,
    reverse: bool = False,
) -> dict[str, Any]:
    """GetDurableExecutionHistory: one page of AWS events (the marker is an offset)."""
    events = history.events(app, execution_id, include_data=include_data)
    if reverse:
        events.reverse()
    start = _offset(marker)
    end = start + max(1, min(max_items, 1000))
    shaped: dict[str, Any] = {"Events": events[start:end]}
    if end < len(events):
        shaped["NextMarker"] = str(end)
    return shaped


def list_page(
    app: App, function: str, statuses: Sequence[str], marker: str | None, max_items: int
) -> dict[str, Any]:
    """ListDurableExecutionsByFunction: newest first; the marker is the last one returned."""
    try:
        wanted = tuple(ExecutionStatus(status) for status in statuses)
    except ValueError:
        raise ValidationError(
            f"Statuses {list(statuses)!r}: each must be one of "
            f"{[s.value for s in ExecutionStatus]}.", statuses=list(statuses)) from None
    before = None
    if marker:
        last = app.engine.get(marker)
        before = (last.created_at, last.id)
    try:
        name = function_name(app, function)
    except UnknownFunction:
        name = function
    limit = max(1, min(max_items, 1000))
    page = app.store.list_executions(ExecutionFilter(
        function=name, statuses=wanted, limit=limit + 1, before_id=before))
    shaped: dict[str, Any] = {"DurableExecutions": [summary(e) for e in page[:limit]]}
    if len(page) > limit:
        shaped["NextMarker"] = page[limit - 1].id
    return shaped


def _offset(marker: str | None) -> int:
    if not marker:
        return 0
    if not marker.isdigit():
        raise ValidationError(f"Invalid Marker {marker!r}: pass the NextMarker of the last page.",
                              marker=marker)
    return int(marker)

"""The ``--json`` shapes of executions, operations and history events (stable for scripts).

Times are ISO 8601 in UTC, durations are seconds, stored values are decoded JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redwood.model import Execution, HistoryEvent, Operation
from redwood.present import error_data, stored_value


def iso(timestamp: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")


def span(start: float | None, end: float | None) -> float | None:
    """Seconds from ``start`` to ``end`` (None unless both are known)."""
    return None if start is None or end is None else round(end - start, 6)


def execution_record(execution: Execution) -> dict[str, Any]:
    """One execution."""
    return {
        "id": execution.id,
        "function": execution.function,
        "status": execution.status.value,
        "created_at": iso(execution.created_at),
        "ended_at": iso(execution.ended_at),
        "duration": span(execution.created_at, execution.ended_at),
        "invocations": execution.invocations,
        "input": stored_value(execution.input),
        "result": stored_value(execution.result),
        "error": error_data(execution.error),
        "cancel_requested": execution.cancel_requested,
        "ready_at": iso(execution.ready_at),
        "lease_owner": execution.lease_owner,
        "lease_expires_at": iso(execution.lease_expires_at),
        "parent_execution_id": execution.parent_execution_id,
        "parent_operation_id": execution.parent_operation_id,
    }


def operation_record(op: Operation) -> dict[str, Any]:
    """One journal entry."""
    return {
        "id": op.id,
        "parent_id": op.parent_id,
        "type": op.type.value,
        "subtype": op.subtype,
        "name": op.name,
        "status": op.status.value,
        "attempt": op.attempt,
        "started_at": iso(op.started_at),
        "ended_at": iso(op.ended_at),
        "duration": span(op.started_at, op.ended_at),
        "due_at": iso(op.due_at),
        "result": stored_value(op.result),
        "error": error_data(op.error),
        "details": op.details,
    }


def event_record(event: HistoryEvent) -> dict[str, Any]:
    """One history event."""
    return {
        "id": event.id,
        "timestamp": iso(event.timestamp),
        "type": event.type,
        "subtype": event.subtype,
        "operation_id": event.operation_id,
        "parent_id": event.parent_id,
        "name": event.name,
        "details": event.details,
    }

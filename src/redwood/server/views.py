"""Model values as JSON for the API (the dashboard's scripts read the same shapes)."""

from __future__ import annotations

from typing import Any

from redwood.engine.blocked import BlockedOn, kind_now
from redwood.model import Execution, HistoryEvent, Operation
from redwood.present import error_data, stored_value


def execution_summary(execution: Execution, now: float) -> dict[str, Any]:
    """One row of the list: no payloads, the blocked-on kind from the row alone."""
    kind = kind_now(execution, now)
    end = execution.ended_at if execution.ended_at is not None else now
    return {
        "id": execution.id,
        "function": execution.function,
        "status": execution.status.value,
        "created_at": execution.created_at,
        "ended_at": execution.ended_at,
        "duration": max(0.0, end - execution.created_at),
        "blocked_on": kind.value if kind is not None else None,
        "parent_execution_id": execution.parent_execution_id,
    }


def execution_detail(
    execution: Execution, now: float, blocked: list[BlockedOn], children: list[Execution]
) -> dict[str, Any]:
    """One execution with its payloads, what it is blocked on, and its children."""
    body = execution_summary(execution, now)
    body.update({
        "input": stored_value(execution.input),
        "result": stored_value(execution.result),
        "error": error_data(execution.error),
        "parent_operation_id": execution.parent_operation_id,
        "invocations": execution.invocations,
        "cancel_requested": execution.cancel_requested,
        "ready_at": execution.ready_at,
        "lease_owner": execution.lease_owner,
        "lease_expires_at": execution.lease_expires_at,
        "timeout_at": execution.timeout_at,
        "blocked": [item.to_json() for item in blocked],
        "children": [execution_summary(child, now) for child in children],
    })
    return body


def operation_json(op: Operation) -> dict[str, Any]:
    """One operation of the journal."""
    return {
        "id": op.id,
        "parent_id": op.parent_id,
        "type": op.type.value,
        "subtype": op.subtype,
        "name": op.name,
        "status": op.status.value,
        "attempt": op.attempt,
        "result": stored_value(op.result),
        "error": error_data(op.error),
        "due_at": op.due_at,
        "started_at": op.started_at,
        "ended_at": op.ended_at,
        "details": op.details,
    }


def event_json(event: HistoryEvent) -> dict[str, Any]:
    """One history event."""
    return {
        "id": event.id,
        "type": event.type,
        "subtype": event.subtype,
        "operation_id": event.operation_id,
        "parent_id": event.parent_id,
        "name": event.name,
        "timestamp": event.timestamp,
        "details": event.details,
    }

"""Conversions between stored rows and model values, shared by every SQL store."""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from redwood.model import (
    RESULT_FROM_EXECUTION,
    RESULT_FROM_OPERATION,
    ErrorRecord,
    Execution,
    HistoryEvent,
    NewEvent,
    Operation,
)
from redwood.types import BlockedKind, ExecutionStatus, OperationStatus, OperationType

EXECUTION_COLUMNS = (
    "id, function, status, input, result, error, created_at, ended_at, ready_at, lease_owner, "
    "lease_expires_at, lease_token, cancel_requested, parent_execution_id, parent_operation_id, "
    "timeout_at, invocations, blocked_on"
)
OPERATION_COLUMNS = (
    "id, parent_id, type, subtype, name, status, attempt, result, error, due_at, started_at, "
    "ended_at, details"
)
# History rows are read through HISTORY_FROM (as ``h``): an event that shows a recorded result
# (NewEvent.result_from) takes it from its operation's row, or its execution's.
HISTORY_COLUMNS = (
    "h.id, h.execution_id, h.type, h.subtype, h.operation_id, h.parent_id, h.name, h.timestamp, "
    f"h.details, h.result_from, CASE h.result_from WHEN '{RESULT_FROM_OPERATION}' THEN o.result "
    f"WHEN '{RESULT_FROM_EXECUTION}' THEN x.result END"
)
HISTORY_FROM = (
    f"history h LEFT JOIN operations o ON h.result_from = '{RESULT_FROM_OPERATION}' "
    "AND o.execution_id = h.execution_id AND o.id = h.operation_id "
    f"LEFT JOIN executions x ON h.result_from = '{RESULT_FROM_EXECUTION}' "
    "AND x.id = h.execution_id"
)



def _compact_encoder() -> Callable[[Any], str]:
    """``json.JSONEncoder(separators=(",", ":")).encode``, with its C encoder built once.

    encode() builds a new C encoder object on every call, which costs more than encoding the
    small details mappings written several times per step. They are plain data the engine
    built, never cyclic, so the C encoder is built without the cycle check (it would need a
    fresh ``markers`` dict per call); the text is the same.
    """
    encoder = json.JSONEncoder(separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
    if make is None:
        return encoder.encode
    encode = make(None, encoder.default, json.encoder.encode_basestring_ascii, None,
                  encoder.key_separator, encoder.item_separator, encoder.sort_keys,
                  encoder.skipkeys, encoder.allow_nan)
    return lambda value: "".join(encode(value, 0))


_encode = _compact_encoder()


def error_text(error: ErrorRecord | None) -> str | None:
    """The stored form of an error."""
    return None if error is None else _encode(error.to_json())


def read_error(text: str | None) -> ErrorRecord | None:
    """An error back from its stored form."""
    return None if text is None else ErrorRecord.from_json(json.loads(text))


def details_text(details: dict[str, Any] | None) -> str | None:
    """The stored form of a details mapping (None when empty)."""
    return _encode(details) if details else None


def execution_from_row(row: Sequence[Any]) -> Execution:
    """An Execution from a row selected with EXECUTION_COLUMNS."""
    return Execution(
        id=row[0], function=row[1], status=ExecutionStatus(row[2]), input=row[3], result=row[4],
        error=read_error(row[5]), created_at=row[6], ended_at=row[7], ready_at=row[8],
        lease_owner=row[9], lease_expires_at=row[10], lease_token=row[11],
        cancel_requested=bool(row[12]), parent_execution_id=row[13], parent_operation_id=row[14],
        timeout_at=row[15], invocations=row[16],
        blocked_on=BlockedKind(row[17]) if row[17] else None,
    )


def operation_from_row(row: Sequence[Any]) -> Operation:
    """An Operation from a row selected with OPERATION_COLUMNS."""
    return Operation(
        id=row[0], parent_id=row[1], type=OperationType(row[2]), subtype=row[3], name=row[4],
        status=OperationStatus(row[5]), attempt=row[6], result=row[7], error=read_error(row[8]),
        due_at=row[9], started_at=row[10], ended_at=row[11],
        details=json.loads(row[12]) if row[12] else {},
    )


def operation_params(execution_id: str, op: Operation) -> tuple[Any, ...]:
    """Insert parameters for one operation row, in the order of the upsert statements."""
    return (
        execution_id, op.id, op.parent_id, op.type.value, op.subtype, op.name,
        op.status.value, op.attempt, op.result, error_text(op.error), op.due_at, op.started_at,
        op.ended_at, details_text(op.details),
    )


def event_params(
    execution_id: str, now: float, events: Iterable[NewEvent]
) -> Iterator[tuple[Any, ...]]:
    """Insert parameters for history events, in the order of the insert statements."""
    for event in events:
        yield (execution_id, event.type, event.subtype, event.operation_id, event.parent_id,
               event.name, now, details_text(event.details), event.result_from)


def history_from_row(row: Sequence[Any]) -> HistoryEvent:
    """A HistoryEvent from a row selected with HISTORY_COLUMNS (from HISTORY_FROM)."""
    details = json.loads(row[8]) if row[8] else {}
    if row[9] is not None:
        details = {"result": row[10], **details}
    return HistoryEvent(
        id=row[0], execution_id=row[1], type=row[2], subtype=row[3], operation_id=row[4],
        parent_id=row[5], name=row[6], timestamp=row[7], details=details,
    )

"""Every operation state transition, and the history event it writes, in one place.

Pure functions: (current operation, update, now) -> (new operation, events). The invocation
applies them to its in-memory journal and hands the rows and events to the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from redwood.errors import CallbackHeartbeatTimedOut, CallbackTimedOut, EventTimedOut
from redwood.model import (
    RESULT_FROM_OPERATION,
    ErrorRecord,
    InboxEvent,
    NewEvent,
    Operation,
    OperationUpdate,
)
from redwood.names import new_callback_id
from redwood.types import WAIT_FOR_EVENT, OperationAction, OperationStatus, OperationType

_PREFIX = {
    OperationType.EXECUTION: "Execution",
    OperationType.CONTEXT: "Context",
    OperationType.STEP: "Step",
    OperationType.WAIT: "Wait",
    OperationType.CALLBACK: "Callback",
    OperationType.CHAINED_INVOKE: "ChainedInvoke",
}
_VERB = {
    OperationAction.START: "Started",
    OperationAction.SUCCEED: "Succeeded",
    OperationAction.FAIL: "Failed",
    OperationAction.RETRY: "Failed",
    OperationAction.CANCEL: "Cancelled",
}
_STATUS = {
    OperationAction.START: OperationStatus.STARTED,
    OperationAction.SUCCEED: OperationStatus.SUCCEEDED,
    OperationAction.FAIL: OperationStatus.FAILED,
    OperationAction.RETRY: OperationStatus.PENDING,
    OperationAction.CANCEL: OperationStatus.CANCELLED,
}
# Statuses after which the next START/SUCCEED/FAIL belongs to a new attempt.
_BETWEEN_ATTEMPTS = frozenset({OperationStatus.PENDING, OperationStatus.READY})


def event_type(op_type: OperationType, verb: str) -> str:
    """The history event name, e.g. (STEP, "Succeeded") -> "StepSucceeded"."""
    return _PREFIX[op_type] + verb


def apply(
    current: Operation | None, update: OperationUpdate, now: float
) -> tuple[Operation, list[NewEvent]]:
    """The operation after ``update``, and the history events that record the change."""
    if update.type is OperationType.CALLBACK and update.action is OperationAction.START:
        return _start_callback(update, now)
    attempt = _attempt(current, update)
    status = _STATUS[update.action]
    due_at = None
    details: dict[str, Any] = dict(current.details) if current is not None else {}
    if update.details:
        details.update(update.details)
    if update.action is OperationAction.RETRY:
        due_at = now + (update.delay or 0.0)
    elif update.action is OperationAction.START and update.delay is not None:
        due_at = now + update.delay
    started_at = details.pop("attempt_started_at", None) or now
    if current is None:
        op = Operation(
            id=update.id, parent_id=update.parent_id, type=update.type, subtype=update.subtype,
            name=update.name, status=status, attempt=attempt, result=update.payload,
            error=update.error, due_at=due_at, started_at=started_at,
            ended_at=now if status.finished else None, details=details,
        )
    else:
        op = replace(
            current, status=status, attempt=attempt,
            result=update.payload if update.payload is not None else current.result,
            error=update.error, due_at=due_at,
            ended_at=now if status.finished else None, details=details,
        )
    return op, _events(current, op, update, started_at)


def _attempt(current: Operation | None, update: OperationUpdate) -> int:
    if current is None:
        return 1
    if current.status in _BETWEEN_ATTEMPTS and update.action is not OperationAction.CANCEL:
        return current.attempt + 1
    return current.attempt


def _events(
    current: Operation | None, op: Operation, update: OperationUpdate, started_at: float
) -> list[NewEvent]:
    events = []
    action = update.action
    # A START batched with its outcome still shows in the history as its own event.
    implicit_start = action not in (OperationAction.START, OperationAction.CANCEL) and (
        current is None or current.status in _BETWEEN_ATTEMPTS
    ) and op.type is OperationType.STEP
    if implicit_start:
        events.append(_event(op, "Started", {"attempt": op.attempt, "started_at": started_at}))
    details: dict[str, Any] = {}
    if action is OperationAction.START:
        details = {"attempt": op.attempt} if op.type is OperationType.STEP else {}
        if op.due_at is not None:
            details["scheduled_end"] = op.due_at
            details["duration"] = update.delay
    elif action is OperationAction.SUCCEED:
        details = {"attempt": op.attempt}  # the result: from the operation (RESULT_FROM_*)
    elif action in (OperationAction.FAIL, OperationAction.RETRY):
        details = {"error": op.error.to_json() if op.error else None, "attempt": op.attempt}
        if action is OperationAction.RETRY:
            details["retry"] = {"next_attempt_at": op.due_at, "delay": update.delay}
            if update.payload is not None:
                details["result"] = update.payload
    if update.details:
        details.update({k: v for k, v in update.details.items() if k != "attempt_started_at"})
    if action is OperationAction.SUCCEED:
        events.append(_succeeded(op, details))
    else:
        events.append(_event(op, _VERB[action], details))
    return events


def _event(op: Operation, verb: str, details: dict[str, Any]) -> NewEvent:
    return NewEvent(type=event_type(op.type, verb), subtype=op.subtype, operation_id=op.id,
                    parent_id=op.parent_id, name=op.name, details=details)


def _succeeded(done: Operation, details: dict[str, Any]) -> NewEvent:
    """The event of an operation that succeeded: it shows the result its row holds."""
    return NewEvent(type=event_type(done.type, "Succeeded"), subtype=done.subtype,
                    operation_id=done.id, parent_id=done.parent_id, name=done.name,
                    details=details, result_from=RESULT_FROM_OPERATION)


def resolve_due(op: Operation, now: float) -> tuple[Operation, list[NewEvent]] | None:
    """Fire ``op``'s timer when it is due: a wait ends, a retry back-off makes the step ready."""
    if op.due_at is None or op.due_at > now:
        return None
    if op.type is OperationType.WAIT and op.status is OperationStatus.STARTED:
        done = replace(op, status=OperationStatus.SUCCEEDED, ended_at=now, due_at=None)
        return done, [_event(done, "Succeeded", {"scheduled_end": op.due_at})]
    if op.type is OperationType.CALLBACK and op.status is OperationStatus.STARTED:
        return _time_out_callback(op, now)
    if op.status is OperationStatus.PENDING:
        return replace(op, status=OperationStatus.READY, due_at=None), []
    return None


def next_due(operations: Iterable[Operation], now: float) -> float | None:
    """When the execution next needs an invocation because of its own timers (None: never)."""
    earliest: float | None = None
    for op in operations:
        if op.status is OperationStatus.READY:
            return now
        if op.due_at is not None and not op.status.finished:
            earliest = op.due_at if earliest is None else min(earliest, op.due_at)
    return earliest


# --- the outside world: callbacks and named events ---------------------------------------------


def _start_callback(update: OperationUpdate, now: float) -> tuple[Operation, list[NewEvent]]:
    # The SDK asks for timeouts in seconds; the journal keeps absolute deadlines, so a replay or
    # another worker sees the same ones.
    details: dict[str, Any] = dict(update.details or {})
    if update.subtype != WAIT_FOR_EVENT and not details.get("callback_id"):
        # An SDK that leaves the id to the service (the AWS data plane does) gets one here.
        details["callback_id"] = new_callback_id()
    timeout = details.pop("timeout", None)
    details["timeout_at"] = None if timeout is None else now + timeout
    if update.subtype != WAIT_FOR_EVENT:
        details["heartbeat_timeout"] = details.get("heartbeat_timeout")
        details["last_heartbeat_at"] = None
    op = Operation(
        id=update.id, parent_id=update.parent_id, type=OperationType.CALLBACK,
        subtype=update.subtype, name=update.name, status=OperationStatus.STARTED, attempt=1,
        started_at=now, details=details,
    )
    op = replace(op, due_at=callback_deadline(op))
    return op, [_event(op, "Started", dict(details))]


def callback_deadline(op: Operation) -> float | None:
    """When a waiting callback or event wait times out: its timeout, or its heartbeat deadline
    (the last heartbeat, or the start, plus the heartbeat timeout), whichever comes first."""
    deadlines = [op.details.get("timeout_at")]
    heartbeat_timeout = op.details.get("heartbeat_timeout")
    since = op.details.get("last_heartbeat_at") or op.started_at
    if heartbeat_timeout is not None and since is not None:
        deadlines.append(since + heartbeat_timeout)
    present = [deadline for deadline in deadlines if deadline is not None]
    return min(present) if present else None


def awaits_event(op: Operation) -> bool:
    """True for a ``wait_for_event`` still waiting."""
    return op.type is OperationType.CALLBACK and op.subtype == WAIT_FOR_EVENT \
        and op.status is OperationStatus.STARTED


def deliver_event(op: Operation, event: InboxEvent, now: float) -> tuple[Operation, list[NewEvent]]:
    """A waiting ``wait_for_event`` receives ``event``: it succeeds with the event's payload."""
    details = {**op.details, "event_id": event.id, "sent_at": event.sent_at}
    done = replace(op, status=OperationStatus.SUCCEEDED, result=event.payload, ended_at=now,
                   due_at=None, details=details)
    return done, [_succeeded(done, {"event_id": event.id, "sent_at": event.sent_at})]


def complete_callback(
    op: Operation, now: float, result: str | None = None, error: ErrorRecord | None = None
) -> tuple[Operation, list[NewEvent]]:
    """The outside world answers a waiting callback: success with ``result``, or ``error``."""
    if error is None:
        done = replace(op, status=OperationStatus.SUCCEEDED, result=result, ended_at=now,
                       due_at=None)
        return done, [_succeeded(done, {})]
    failed = replace(op, status=OperationStatus.FAILED, error=error, ended_at=now, due_at=None)
    return failed, [_event(failed, "Failed", {"error": error.to_json()})]


def heartbeat_callback(op: Operation, now: float) -> Operation:
    """The outside world says it is still working: the heartbeat deadline moves on."""
    beaten = replace(op, details={**op.details, "last_heartbeat_at": now})
    return replace(beaten, due_at=callback_deadline(beaten))


def _time_out_callback(op: Operation, now: float) -> tuple[Operation, list[NewEvent]]:
    timeout_at = op.details.get("timeout_at")
    reason = "timeout" if timeout_at is not None and op.due_at is not None \
        and timeout_at <= op.due_at else "heartbeat"
    what = f'callback "{op.name}"' if op.name else f"callback #{op.id}"
    error: Exception
    if op.subtype == WAIT_FOR_EVENT:
        error = EventTimedOut(f'no event "{op.name}" arrived by {timeout_at}')
    elif reason == "timeout":
        error = CallbackTimedOut(f"{what} got no answer by {timeout_at}")
    else:
        error = CallbackHeartbeatTimedOut(f"{what} got no heartbeat by {op.due_at}")
    record = ErrorRecord.from_exception(error)
    done = replace(op, status=OperationStatus.TIMED_OUT, error=record, ended_at=now, due_at=None,
                   details={**op.details, "timed_out": reason})
    return done, [_event(done, "TimedOut", {"reason": reason, "deadline": op.due_at,
                                            "error": record.to_json()})]

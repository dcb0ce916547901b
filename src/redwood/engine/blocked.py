"""What a running execution is blocked on, and since when, from its row and its journal.

Three kinds follow from the lease columns alone and win over everything else: a worker holds
the execution now (``running``), its lease ran out without a release (``lease_expired``: the
worker died or hangs), or it is due but no worker took it yet (``ready``). Otherwise the
execution waits for its own operations: a callback, a named event, child executions, a retry
back-off or a timer. The engine records the first of those at release time (``recorded_wait``)
so list views can filter on an indexed column; the full answer comes from the journal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from redwood.model import Execution, Operation
from redwood.store.base import Store
from redwood.types import BlockedKind, ExecutionStatus, OperationStatus, OperationType

# When an execution waits on several things at once (parallel branches), the first of these
# is shown as its blocked-on kind: waits on the outside world before waits on itself.
_PRECEDENCE = (BlockedKind.CALLBACK, BlockedKind.EVENT, BlockedKind.CHILDREN, BlockedKind.RETRY,
               BlockedKind.TIMER)
_EVENT_SUBTYPE = "WaitForEvent"
_CONDITION_SUBTYPE = "WaitForCondition"


@dataclass(frozen=True, slots=True)
class BlockedOn:
    """One thing an execution waits for: its kind, since when, until when, and the particulars."""

    kind: BlockedKind
    since: float | None
    until: float | None = None
    operation_id: str | None = None
    name: str | None = None
    attempt: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The form the HTTP API and the CLI's JSON output use."""
        return {"kind": self.kind.value, "since": self.since, "until": self.until,
                "operation_id": self.operation_id, "name": self.name, "attempt": self.attempt,
                "details": self.details}


def kind_now(execution: Execution, now: float) -> BlockedKind | None:
    """The blocked-on kind from the execution row alone (what list views show and filter on)."""
    if execution.status is not ExecutionStatus.RUNNING:
        return None
    if execution.lease_owner is not None:
        expired = execution.lease_expires_at is not None and execution.lease_expires_at <= now
        return BlockedKind.LEASE_EXPIRED if expired else BlockedKind.RUNNING
    if execution.ready_at is not None and execution.ready_at <= now:
        return BlockedKind.READY
    return execution.blocked_on


def recorded_wait(operations: Iterable[Operation]) -> BlockedKind | None:
    """The kind the engine records when an invocation releases the execution."""
    found = waits(operations)
    return found[0].kind if found else None


def blocked_on(
    execution: Execution, operations: Iterable[Operation], now: float, *,
    children: Mapping[str, Execution] | None = None, last_invocation_at: float | None = None,
) -> list[BlockedOn]:
    """Everything the execution waits for now, the one that names its kind first ([] if ended).

    ``children`` are the child executions by id (for their status); ``last_invocation_at`` is
    when the last invocation ended (its InvocationCompleted event), used as the start of a
    running invocation and of a retry back-off.
    """
    if execution.status is not ExecutionStatus.RUNNING:
        return []
    journal = list(operations)
    kind = kind_now(execution, now)
    if kind is BlockedKind.RUNNING:
        return [_running(execution, journal, now, last_invocation_at)]
    if kind is BlockedKind.LEASE_EXPIRED:
        return [BlockedOn(BlockedKind.LEASE_EXPIRED, since=execution.lease_expires_at,
                          details={"worker": execution.lease_owner,
                                   "lease_expires_at": execution.lease_expires_at,
                                   "invocation": execution.invocations})]
    if kind is BlockedKind.READY:
        reason = "never claimed" if execution.invocations == 0 else "woken, not claimed yet"
        return [BlockedOn(BlockedKind.READY, since=execution.ready_at,
                          details={"reason": reason, "invocations": execution.invocations})]
    return waits(journal, children, last_invocation_at)


def load(
    store: Store, execution: Execution, operations: list[Operation], now: float,
    children: Mapping[str, Execution] | None = None,
) -> list[BlockedOn]:
    """``blocked_on`` with what it needs read from ``store``: child executions of pending
    invokes not in ``children`` and the end of the last invocation (one indexed query each)."""
    if execution.status is not ExecutionStatus.RUNNING:
        return []
    by_id = dict(children or {})
    for op in operations:
        child_id = op.details.get("child_execution_id")
        if op.type is OperationType.CHAINED_INVOKE and not op.status.finished \
                and isinstance(child_id, str) and child_id not in by_id:
            child = store.get_execution(child_id)
            if child is not None:
                by_id[child_id] = child
    last = store.latest_event(execution.id, "InvocationCompleted")
    return blocked_on(execution, operations, now, children=by_id,
                      last_invocation_at=last.timestamp if last is not None else None)


def waits(
    operations: Iterable[Operation], children: Mapping[str, Execution] | None = None,
    last_invocation_at: float | None = None,
) -> list[BlockedOn]:
    """The operations the execution waits on, by precedence and then oldest first."""
    found = [wait for op in operations
             if (wait := _wait(op, children or {}, last_invocation_at)) is not None]
    rank = {kind: index for index, kind in enumerate(_PRECEDENCE)}
    return sorted(found, key=lambda w: (rank[w.kind], w.since or 0.0, w.operation_id or ""))


def _wait(
    op: Operation, children: Mapping[str, Execution], last_invocation_at: float | None
) -> BlockedOn | None:
    if op.status.finished:
        return None
    if op.type is OperationType.WAIT and op.status is OperationStatus.STARTED:
        return _of(op, BlockedKind.TIMER, until=op.due_at)
    if op.type is OperationType.CALLBACK and op.status is OperationStatus.STARTED:
        return _callback(op)
    if op.type is OperationType.CHAINED_INVOKE and op.status is OperationStatus.STARTED:
        child_id = op.details.get("child_execution_id")
        child = children.get(child_id) if isinstance(child_id, str) else None
        return _of(op, BlockedKind.CHILDREN, details={
            "child_execution_id": child_id,
            "child_status": child.status.value if child is not None else None,
            "child_function": child.function if child is not None else None})
    if op.type is OperationType.STEP and op.status is OperationStatus.PENDING:
        if op.subtype == _CONDITION_SUBTYPE:
            return _of(op, BlockedKind.TIMER, until=op.due_at,
                       details={"condition": True, "next_check_at": op.due_at})
        error = op.error
        return BlockedOn(
            BlockedKind.RETRY, since=last_invocation_at, until=op.due_at, operation_id=op.id,
            name=op.name, attempt=op.attempt + 1,
            details={"failed_attempts": op.attempt, "next_attempt_at": op.due_at,
                     "last_error": error.to_json() if error is not None else None})
    return None


def _callback(op: Operation) -> BlockedOn:
    details = op.details
    if op.subtype == _EVENT_SUBTYPE:
        timeout_at = details.get("timeout_at")
        return _of(op, BlockedKind.EVENT, until=timeout_at,
                   details={"event": details.get("event", op.name), "timeout_at": timeout_at})
    return _of(op, BlockedKind.CALLBACK, until=details.get("timeout_at"), details={
        "callback_id": details.get("callback_id"), "timeout_at": details.get("timeout_at"),
        "heartbeat_timeout": details.get("heartbeat_timeout"),
        "last_heartbeat_at": details.get("last_heartbeat_at"), "deadline_at": op.due_at})


def _of(
    op: Operation, kind: BlockedKind, *, until: float | None = None,
    details: dict[str, Any] | None = None,
) -> BlockedOn:
    return BlockedOn(kind, since=op.started_at, until=until, operation_id=op.id, name=op.name,
                     details=details or {})


def _running(
    execution: Execution, journal: list[Operation], now: float, last_invocation_at: float | None
) -> BlockedOn:
    # An at-most-once step records its START before its body runs, and a step whose back-off
    # has passed is READY: those name the step. An at-least-once step that runs now is not in
    # the journal yet; it began after the last thing this invocation recorded.
    details: dict[str, Any] = {"worker": execution.lease_owner,
                               "lease_expires_at": execution.lease_expires_at,
                               "invocation": execution.invocations}
    for op in reversed(journal):
        if op.type is OperationType.STEP and op.status is OperationStatus.STARTED:
            return BlockedOn(BlockedKind.RUNNING, since=op.started_at, operation_id=op.id,
                             name=op.name, attempt=op.attempt, details=details)
    for op in journal:
        due = op.status is OperationStatus.PENDING and op.due_at is not None and op.due_at <= now
        if op.type is OperationType.STEP and (op.status is OperationStatus.READY or due):
            return BlockedOn(BlockedKind.RUNNING, since=last_invocation_at, operation_id=op.id,
                             name=op.name, attempt=op.attempt + 1, details=details)
    moments = [execution.created_at, last_invocation_at or 0.0]
    moments += [t for op in journal for t in (op.started_at, op.ended_at) if t is not None]
    if journal:
        details["after_operation"] = journal[-1].id
    return BlockedOn(BlockedKind.RUNNING, since=max(moments), details=details)

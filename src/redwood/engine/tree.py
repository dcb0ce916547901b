"""The engine's part in trees of executions: starting invoked children in the parent's commit,
execution timeouts, and what an ending execution does to its unfinished operations."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from redwood.engine import transitions
from redwood.engine.registry import Registry
from redwood.errors import ExecutionTimedOut, RedwoodError
from redwood.model import ErrorRecord, Execution, NewEvent, Operation, OperationUpdate
from redwood.sdk.invoke import child_execution_id
from redwood.store.base import NewExecution
from redwood.types import OperationAction, OperationType


@dataclass(frozen=True, slots=True)
class Expanded:
    """One checkpoint update as the engine applies it, and the child executions it touches."""

    updates: tuple[OperationUpdate, ...]
    start: NewExecution | None = None
    stop: str | None = None


class Tree:
    """Starts invoked executions for an invocation; ``started`` wakes the workers afterwards."""

    def __init__(self, registry: Registry, started: Callable[[], None]) -> None:
        self._registry = registry
        self.started = started

    def expand(self, parent: Execution, current: Operation | None, update: OperationUpdate,
               now: float) -> Expanded:
        """``update`` with what it means for child executions: a CHAINED_INVOKE START creates
        the child (or fails at once for an unknown function); a CANCEL stops it."""
        if update.type is not OperationType.CHAINED_INVOKE:
            return Expanded((update,))
        if update.action is OperationAction.CANCEL and current is not None \
                and not current.status.finished:
            return Expanded((update,), stop=current.details.get("child_execution_id"))
        if update.action is not OperationAction.START or current is not None:
            return Expanded((update,))
        child_id = str((update.details or {}).get("child_execution_id")
                       or child_execution_id(parent.id, update.id))
        # The input travels in the update's payload; the operation's result is the child's.
        start = replace(update, payload=None)
        function = (update.details or {}).get("function", "")
        try:
            durable = self._registry.get(function)
        except RedwoodError as error:
            failure = OperationUpdate(
                id=update.id, parent_id=update.parent_id, type=update.type,
                action=OperationAction.FAIL, name=update.name,
                error=ErrorRecord.from_exception(error),
            )
            return Expanded((start, failure))
        timeout_at = now + durable.timeout if durable.timeout is not None else None
        child = NewExecution(
            id=child_id, function=durable.name, input=update.payload, now=now,
            parent_execution_id=parent.id, parent_operation_id=update.id, timeout_at=timeout_at,
        )
        return Expanded((start,), start=child)


def timed_out(execution: Execution, now: float) -> bool:
    """Whether the execution has run past its timeout."""
    return execution.timeout_at is not None and now >= execution.timeout_at


def timeout_error(execution: Execution) -> ErrorRecord:
    """The error a timed-out execution ends with."""
    return ErrorRecord.from_exception(ExecutionTimedOut(
        f'Execution "{execution.id}" ran past its timeout (at {execution.timeout_at}, counted '
        "from its start across suspensions). Give it a longer timeout, or split the work.",
        execution_id=execution.id, timeout_at=execution.timeout_at,
    ))


def earliest(ready_at: float | None, timeout_at: float | None) -> float | None:
    """When a suspended execution must next run: its own timers, or its timeout if sooner."""
    if timeout_at is None:
        return ready_at
    return timeout_at if ready_at is None else min(ready_at, timeout_at)


def end_operations(
    operations: Iterable[Operation], now: float
) -> list[tuple[Operation, list[NewEvent]]]:
    """An ending execution cancels its unfinished operations: their timers never fire."""
    ended = []
    for op in operations:
        if op.status.finished:
            continue
        cancel = OperationUpdate(id=op.id, parent_id=op.parent_id, type=op.type,
                                 action=OperationAction.CANCEL, name=op.name, subtype=op.subtype,
                                 details={"reason": "the execution ended"})
        ended.append(transitions.apply(op, cancel, now))
    return ended

"""``ctx.wait``: a durable timer. The invocation suspends; a worker resumes it when due."""

from __future__ import annotations

from redwood.model import OperationUpdate
from redwood.sdk.signals import Suspend
from redwood.sdk.state import InvocationState, Scope
from redwood.types import OperationAction, OperationStatus, OperationType


def wait(state: InvocationState, scope: Scope, duration: float, name: str | None) -> None:
    """Suspend until ``duration`` seconds after the wait was first reached (already validated)."""
    op_id = scope.next_id()
    op = state.lookup(op_id, OperationType.WAIT, None, name, scope.parent_id)
    if op is not None:
        if op.status is OperationStatus.SUCCEEDED:
            return
        raise Suspend(f"wait #{op_id} until {op.due_at}")
    state.record(OperationUpdate(
        id=op_id, parent_id=scope.parent_id, type=OperationType.WAIT,
        action=OperationAction.START, name=name, delay=duration,
    ))
    raise Suspend(f"wait #{op_id} for {duration}s")

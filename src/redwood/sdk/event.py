"""``ctx.wait_for_event``: wait, holding no thread, for a named event sent with
``Client.send_event`` (Azure's external events, Temporal's signals).

Events sent before the function waits are kept in the execution's inbox; each wait takes the
oldest one with its name, so every event is received by exactly one wait, in the order sent.
"""

from __future__ import annotations

from typing import Any

from redwood.durations import Duration, seconds
from redwood.errors import EventTimedOut
from redwood.model import Operation, OperationUpdate
from redwood.names import event_name
from redwood.sdk.effects import FLUSH, Flow
from redwood.sdk.signals import Suspend
from redwood.sdk.state import InvocationState, Scope
from redwood.types import WAIT_FOR_EVENT, OperationAction, OperationStatus, OperationType


def event_timeout(timeout: Duration | None) -> float | None:
    """The checked timeout in seconds (1 second to 1 year), or None to wait without limit."""
    return None if timeout is None else seconds(timeout, "wait_for_event timeout")


def wait_for_event_flow(
    state: InvocationState, scope: Scope, name: str, timeout: float | None
) -> Flow[Any]:
    """The payload of the next event called ``name``; raises EventTimedOut after ``timeout``."""
    name = event_name(name, "wait_for_event: the event name")
    op_id = scope.next_id()
    op = state.lookup(op_id, OperationType.CALLBACK, WAIT_FOR_EVENT, name, scope.parent_id)
    if op is None:
        state.record(OperationUpdate(
            id=op_id, parent_id=scope.parent_id, type=OperationType.CALLBACK,
            action=OperationAction.START, name=name, subtype=WAIT_FOR_EVENT,
            details={"event": name, "timeout": timeout},
        ))
        # Recording the wait hands it the oldest matching event already in the inbox, if any:
        # then the function goes on in this invocation instead of suspending.
        yield FLUSH
        op = state.journal[op_id]
        if state.options.always_replay and op.status.finished:
            raise Suspend("always-replay mode", immediate=True)
    return _outcome(state, op)


def _outcome(state: InvocationState, op: Operation) -> Any:
    if op.status is OperationStatus.SUCCEEDED:
        what = f'the payload of event "{op.name}" (operation #{op.id})'
        return state.codec.decode(op.result, None, what)
    if op.status is OperationStatus.TIMED_OUT:
        raise EventTimedOut(
            f'Execution "{state.execution_id}", operation #{op.id}: no event "{op.name}" arrived '
            f"by its timeout ({op.details.get('timeout_at')}). Catch EventTimedOut to handle it, "
            "or wait longer.",
            execution_id=state.execution_id, operation_id=op.id, event=op.name,
        )
    raise Suspend(f'wait #{op.id} for event "{op.name}"')

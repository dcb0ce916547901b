"""``ctx.invoke``: run another durable function as a child execution and wait for its outcome.

The child's id comes from the parent's id and the operation's id, so a replay never starts it
twice. The engine creates the child in the same commit that records the CHAINED_INVOKE start, and
the child's final commit completes that operation and wakes the parent (see store.base).
"""

from __future__ import annotations

import hashlib
from typing import Any

from redwood.errors import InvokeFailed
from redwood.model import ErrorRecord, Operation, OperationUpdate
from redwood.sdk.effects import FLUSH, Flow
from redwood.sdk.signals import Suspend
from redwood.sdk.state import InvocationState, Scope
from redwood.serde import Codec
from redwood.types import OperationAction, OperationStatus, OperationType

_MAX_ID_LENGTH = 256


def child_execution_id(execution_id: str, op_id: str) -> str:
    """The id of the execution invoked by operation ``op_id``: ``<parent id>:<op id>``
    (the parent id hashed when that would be too long)."""
    candidate = f"{execution_id}:{op_id}"
    if len(candidate) <= _MAX_ID_LENGTH:
        return candidate
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:32]
    return f"{digest}:{op_id}"


def invoke_flow(
    state: InvocationState, scope: Scope, function: str, payload: Any, name: str,
    codec: Codec, hint: Any,
) -> Flow[Any]:
    """Start the child once, then suspend until it ends; return its result or raise."""
    op_id = scope.next_id()
    op = state.lookup(op_id, OperationType.CHAINED_INVOKE, None, name, scope.parent_id)
    if op is None:
        child_id = child_execution_id(state.execution_id, op_id)
        text = codec.encode(payload, f'the input of invoke "{name}" (operation #{op_id})')
        state.record(OperationUpdate(
            id=op_id, parent_id=scope.parent_id, type=OperationType.CHAINED_INVOKE,
            action=OperationAction.START, name=name, payload=text,
            details={"child_execution_id": child_id, "function": function},
        ))
        # The child exists once this commit is durable (or the invoke failed at once).
        yield FLUSH
        op = state.journal.get(op_id)
    if op is not None and op.status is OperationStatus.SUCCEEDED:
        return codec.decode(op.result, hint, f'the result of invoke "{name}" (operation #{op_id})')
    if op is not None and op.status.finished:
        raise invoke_failed(state, op)
    child = op.details.get("child_execution_id") if op is not None else None
    raise Suspend(f'invoke #{op_id} waits for child execution "{child}"')


def invoke_failed(state: InvocationState, op: Operation) -> InvokeFailed:
    """The error a recorded invoke failure re-raises, identical on first run and on replay."""
    record = op.error or ErrorRecord(type="redwood.Stopped", message="(no error recorded)")
    child = op.details.get("child_execution_id")
    return InvokeFailed(
        f'Invoke "{op.name}" (operation #{op.id}) of execution "{state.execution_id}": child '
        f'execution "{child}" ended {op.status.value}: {record.type}: {record.message}',
        execution_id=state.execution_id, operation_id=op.id, name=op.name,
        child_execution_id=child, status=op.status.value, error_type=record.type,
        error_message=record.message, error_mro=record.mro,
    )

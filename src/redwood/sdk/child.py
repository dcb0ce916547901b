"""Child contexts: a function whose operations are grouped under one CONTEXT operation with its
own result. ``ctx.run_in_child_context`` uses them directly; map and parallel run each branch as
one (subtypes MapIteration / ParallelBranch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from redwood.errors import ChildContextFailed, LeaseLost, NonDeterminism
from redwood.model import ErrorRecord, Operation, OperationUpdate
from redwood.sdk.effects import Call, Flow
from redwood.sdk.lanes import Lane
from redwood.sdk.state import InvocationState, Scope
from redwood.serde import Codec
from redwood.types import OperationAction, OperationStatus, OperationType

T = TypeVar("T")

RUN_IN_CHILD_CONTEXT = "RunInChildContext"

_KIND = {
    RUN_IN_CHILD_CONTEXT: "Child context",
    "MapIteration": "Map iteration",
    "ParallelBranch": "Parallel branch",
}

# Errors that say the invocation itself is broken: they unwind it and are never recorded as the
# failure of a context.
_NOT_RECORDED = (NonDeterminism, LeaseLost)


class BranchAbandoned(BaseException):
    """A map/parallel completed while this branch was still running: unwind it at its next
    operation. A BaseException, so user code cannot swallow it."""


class BranchToken(Lane):
    """One batch branch: its lane, and whether it (with everything nested in it) was
    abandoned."""

    __slots__ = ("abandoned",)

    def __init__(self, parent: BranchToken | None) -> None:
        super().__init__(parent)
        self.abandoned = False

    def check(self) -> None:
        """Raise BranchAbandoned when this branch or an enclosing one was abandoned."""
        for lane in self.lineage():
            if isinstance(lane, BranchToken) and lane.abandoned:
                raise BranchAbandoned()


class BranchScope(Scope):
    """The scope of operations inside a batch branch: taking an id first checks that the
    branch was not abandoned, so an abandoned branch stops at its next operation."""

    __slots__ = ("token",)

    def __init__(self, parent_id: str, token: BranchToken) -> None:
        super().__init__(parent_id)
        self.token = token

    def next_id(self) -> str:
        self.token.check()
        return super().next_id()


def child_scope(scope: Scope, op_id: str) -> Scope:
    """The scope of the operations inside context ``op_id`` opened in ``scope``."""
    if isinstance(scope, BranchScope):
        return BranchScope(op_id, scope.token)
    return Scope(op_id)


def branch_token(scope: Scope) -> BranchToken | None:
    """The token of the branch ``scope`` runs in, if any (nested batches chain to it)."""
    return scope.token if isinstance(scope, BranchScope) else None


@dataclass(frozen=True, slots=True)
class ContextSpec:
    """Which CONTEXT operation a context flow records, and how its result is stored."""

    op_id: str
    parent_id: str | None
    subtype: str
    name: str | None
    codec: Codec
    hint: Any = None


def context_flow(
    state: InvocationState, spec: ContextSpec, fn: Callable[..., Any], args: tuple[Any, ...]
) -> Flow[Any]:
    """Run ``fn(*args)`` as a CONTEXT operation: replay its recorded outcome, or run it (its
    inner operations replay themselves) and record what it returned or raised."""
    op = state.lookup(spec.op_id, OperationType.CONTEXT, spec.subtype, spec.name, spec.parent_id)
    what = f'the result of {_kind(spec.subtype).lower()} "{spec.name}" (operation #{spec.op_id})'
    if op is not None and op.status is OperationStatus.SUCCEEDED:
        return spec.codec.decode(op.result, spec.hint, what)
    if op is not None and op.status.finished:
        raise context_failed(state, op)
    if op is None:
        state.record(_update(spec, OperationAction.START))
    try:
        value = yield Call(fn, args, {})
        text = spec.codec.encode(value, what)
    except _NOT_RECORDED:
        raise
    except Exception as error:
        if state.fatal is not None:
            raise
        record = ErrorRecord.from_exception(error)
        state.record(_update(spec, OperationAction.FAIL, error=record))
        raise _failed(state, spec.op_id, spec.subtype, spec.name, record) from error
    state.record(_update(spec, OperationAction.SUCCEED, payload=text))
    return spec.codec.decode(text, spec.hint, what)


def context_failed(state: InvocationState, op: Operation) -> ChildContextFailed:
    """The error a recorded context failure re-raises, identical on first run and on replay."""
    record = op.error or ErrorRecord(
        type="redwood.Cancelled", message=f"the context ended {op.status.value}"
    )
    return _failed(state, op.id, op.subtype or RUN_IN_CHILD_CONTEXT, op.name, record)


def _failed(
    state: InvocationState, op_id: str, subtype: str, name: str | None, record: ErrorRecord
) -> ChildContextFailed:
    label = f'{_kind(subtype)} "{name}"' if name is not None else _kind(subtype)
    return ChildContextFailed(
        f'{label} (operation #{op_id}) of execution "{state.execution_id}" failed: '
        f"{record.type}: {record.message}",
        execution_id=state.execution_id, operation_id=op_id, name=name, subtype=subtype,
        error_type=record.type, error_message=record.message, error_mro=record.mro,
    )


def _kind(subtype: str) -> str:
    return _KIND.get(subtype, "Context")


def _update(
    spec: ContextSpec, action: OperationAction, *, payload: str | None = None,
    error: ErrorRecord | None = None,
) -> OperationUpdate:
    return OperationUpdate(
        id=spec.op_id, parent_id=spec.parent_id, type=OperationType.CONTEXT, action=action,
        name=spec.name, subtype=spec.subtype, payload=payload, error=error,
    )

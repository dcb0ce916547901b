"""Sagas: undo completed work when a later step fails.

    with ctx.saga("order") as saga:
        reservation = ctx.step(reserve, order)
        saga.add(release, reservation)
        ...

When the block raises, the registered compensations run in reverse order, each as a durable,
retried step inside a CONTEXT "Saga" operation whose result records what was compensated; then
the original error propagates. Suspensions and stops pass through untouched: they are not
failures. Compensations are registered again by every replay, as the code reaches ``add``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeVarTuple

from redwood.errors import CompensationFailed, LeaseLost, NonDeterminism, StepFailed
from redwood.model import ErrorRecord, Operation, OperationUpdate
from redwood.retry import RetryPolicy
from redwood.sdk.child import child_scope
from redwood.sdk.effects import Flow, adrive, drive
from redwood.sdk.state import InvocationState, Scope
from redwood.sdk.step import StepOptions, step_flow
from redwood.types import OperationAction, OperationStatus, OperationType, StepSemantics

Ts = TypeVarTuple("Ts")

SAGA = "Saga"


@dataclass(frozen=True, slots=True)
class Compensation:
    """One undo action: ``fn(*args)`` run as a step named ``name``."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    name: str


class Saga:
    """The compensations registered so far, and after a failure what was compensated."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.compensations: list[Compensation] = []
        self.compensated: list[str] = []
        self.failed: list[str] = []

    def add(self, fn: Callable[[*Ts], object], *args: *Ts, name: str | None = None) -> None:
        """Register ``fn(*args)`` to undo the work just completed, should the saga fail."""
        if not callable(fn):
            raise TypeError(f'saga "{self.name}": add() needs a callable, got {fn!r}')
        label = name or str(getattr(fn, "__name__", "compensate"))
        self.compensations.append(Compensation(fn, tuple(args), label))


class _SagaBlock:
    """What the sync and async ``with`` forms share."""

    def __init__(self, state: InvocationState, scope: Scope, name: str, retry: RetryPolicy
                 ) -> None:
        self._state = state
        self._scope = scope
        self._retry = retry
        self.saga = Saga(name)

    def _compensates(self, error: BaseException | None) -> bool:
        # Suspend and Stop are BaseExceptions, not failures; a broken invocation must unwind.
        return isinstance(error, Exception) and \
            not isinstance(error, NonDeterminism | LeaseLost) and self._state.fatal is None

    def _flow(self, error: BaseException) -> Flow[None]:
        return compensate_flow(self._state, self._scope, self.saga, error, self._retry)


class SagaBlock(_SagaBlock):
    """``with ctx.saga(...) as saga:`` for sync durable functions."""

    def __enter__(self) -> Saga:
        return self.saga

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if self._compensates(error):
            assert error is not None
            drive(self._flow(error), self._state)
        return False


class AsyncSagaBlock(_SagaBlock):
    """``async with ctx.saga(...) as saga:`` for async durable functions."""

    def __init__(self, state: InvocationState, scope: Scope, name: str, retry: RetryPolicy,
                 io: Executor) -> None:
        super().__init__(state, scope, name, retry)
        self._io = io

    async def __aenter__(self) -> Saga:
        return self.saga

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> Literal[False]:
        if self._compensates(error):
            assert error is not None
            await adrive(self._flow(error), self._state, self._io)
        return False


def compensate_flow(
    state: InvocationState, scope: Scope, saga: Saga, error: BaseException, retry: RetryPolicy
) -> Flow[None]:
    """Run the compensations newest first, each a retried step, and record the outcome; raise
    CompensationFailed if one failed for good (after trying all the others)."""
    op_id = scope.next_id()
    op = state.lookup(op_id, OperationType.CONTEXT, SAGA, saga.name, scope.parent_id)
    if op is not None and op.status.finished:
        _restore(saga, op)
        if op.status is not OperationStatus.SUCCEEDED:
            raise _compensation_failed(state, op_id, saga, op.error)
        return None
    if op is None:
        state.record(_update(op_id, scope, saga, OperationAction.START))
    inner = child_scope(scope, op_id)
    first_failure: ErrorRecord | None = None
    for compensation in reversed(saga.compensations):
        options = StepOptions(name=compensation.name, retry=retry,
                              semantics=StepSemantics.AT_LEAST_ONCE_PER_RETRY, codec=state.codec)
        try:
            yield from step_flow(state, inner, compensation.fn, compensation.args, {}, options)
        except StepFailed as failure:
            saga.failed.append(compensation.name)
            first_failure = first_failure or ErrorRecord.from_exception(failure)
        else:
            saga.compensated.append(compensation.name)
    outcome = json.dumps({"error": {"type": ErrorRecord.from_exception(error).type,
                                    "message": str(error)},
                          "compensated": saga.compensated, "failed": saga.failed})
    if first_failure is None:
        state.record(_update(op_id, scope, saga, OperationAction.SUCCEED, payload=outcome))
        return None
    state.record(_update(op_id, scope, saga, OperationAction.FAIL, payload=outcome,
                         error=first_failure))
    raise _compensation_failed(state, op_id, saga, first_failure) from error


def _restore(saga: Saga, op: Operation) -> None:
    data = json.loads(op.result or "{}")
    saga.compensated = list(data.get("compensated", []))
    saga.failed = list(data.get("failed", []))


def _compensation_failed(state: InvocationState, op_id: str, saga: Saga,
                         record: ErrorRecord | None) -> CompensationFailed:
    record = record or ErrorRecord(type="redwood.Unknown", message="(no error recorded)")
    return CompensationFailed(
        f'Saga "{saga.name}" (operation #{op_id}) of execution "{state.execution_id}" could not '
        f"compensate {', '.join(saga.failed)}: {record.type}: {record.message}. Compensated: "
        f"{', '.join(saga.compensated) or 'nothing'}. The failed work needs attention by hand.",
        execution_id=state.execution_id, operation_id=op_id, saga=saga.name,
        compensated=list(saga.compensated), failed=list(saga.failed),
        error_type=record.type, error_message=record.message, error_mro=record.mro,
    )


def _update(op_id: str, scope: Scope, saga: Saga, action: OperationAction,
            payload: str | None = None, error: ErrorRecord | None = None) -> OperationUpdate:
    return OperationUpdate(
        id=op_id, parent_id=scope.parent_id, type=OperationType.CONTEXT, action=action,
        name=saga.name, subtype=SAGA, payload=payload, error=error,
    )

"""``ctx.step``: run a function once per attempt, record its result, replay it afterwards."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from redwood.errors import StepFailed, StepInterrupted
from redwood.model import ErrorRecord, Operation, OperationUpdate
from redwood.records import record
from redwood.retry import RetryPolicy
from redwood.sdk.effects import DEPENDENCIES, FLUSH, Call, Flow
from redwood.sdk.signals import Stop, Suspend
from redwood.sdk.state import InvocationState, Scope
from redwood.serde import Codec, parameter_hints, return_hint
from redwood.types import OperationAction, OperationStatus, OperationType, StepSemantics

T = TypeVar("T")

_logger = logging.getLogger("redwood.step")


@record
class StepContext:
    """Given to a step body that declares a first parameter of this type."""

    execution_id: str
    operation_id: str
    name: str
    attempt: int
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger]


@record
class StepOptions:
    """How one step runs: its name, retry policy, semantics and value codec."""

    name: str
    retry: RetryPolicy
    semantics: StepSemantics
    codec: Codec
    timeout: float | None = None


def step_flow(
    state: InvocationState, scope: Scope, fn: Callable[..., T], args: tuple[Any, ...],
    kwargs: dict[str, Any], options: StepOptions,
) -> Flow[T]:
    """The step's life: replay the recorded outcome, or run an attempt and record it."""
    op_id = scope.next_id()
    op = state.lookup(op_id, OperationType.STEP, None, options.name, scope.parent_id)
    hint, wants_context = _body_facts(fn)
    what = f'the result of step "{options.name}" (operation #{op_id})'
    if op is not None:
        if op.status is OperationStatus.SUCCEEDED:
            return options.codec.decode(op.result, hint, what)  # type: ignore[no-any-return]
        if op.status is OperationStatus.FAILED:
            raise step_failed(state, op)
        if op.status is OperationStatus.PENDING:
            raise Suspend(f'step "{options.name}" waits for its next attempt')
        if op.status is OperationStatus.STARTED and \
                options.semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY:
            interrupted = StepInterrupted(
                f'Step "{options.name}" (operation #{op_id}) of execution "{state.execution_id}" '
                f"was started in attempt {op.attempt} but never finished; at-most-once semantics "
                "forbid running that attempt again, so it counts as failed.",
                execution_id=state.execution_id, operation_id=op_id, attempt=op.attempt,
            )
            _fail_or_retry(state, scope, op_id, options, op.attempt, interrupted)
    attempt = _next_attempt(op)
    # Earlier results must be durable before this step's side effects can happen (in a
    # map/parallel branch: those of its own lane; see lanes.py).
    yield DEPENDENCIES
    if state.stop_requested:
        # That commit brought a cancel (or the timeout): stop before the side effects.
        raise Stop()
    started = state.clock.now()
    if options.semantics is StepSemantics.AT_MOST_ONCE_PER_RETRY:
        state.record(_update(op_id, scope, options, OperationAction.START,
                             details={"attempt_started_at": started}))
        yield FLUSH
        started = state.clock.now()
    call_args = args
    if wants_context:
        logger = logging.LoggerAdapter(_logger, {"execution_id": state.execution_id,
                                                 "operation_id": op_id, "attempt": attempt})
        call_args = (StepContext(state.execution_id, op_id, options.name, attempt, logger), *args)
    try:
        value = yield Call(fn, call_args, kwargs, options.timeout)
        text = options.codec.encode(value, what)
    except Exception as error:
        _fail_or_retry(state, scope, op_id, options, attempt, error, started)
    state.record(_update(op_id, scope, options, OperationAction.SUCCEED, payload=text,
                         details={"attempt_started_at": started}))
    if state.options.always_replay:
        raise Suspend("always-replay mode", immediate=True)
    # The first run returns what a replay will: the value read back from its stored text.
    return options.codec.read_back(value, text, hint, what)  # type: ignore[no-any-return]


def _next_attempt(op: Operation | None) -> int:
    if op is None:
        return 1
    if op.status is OperationStatus.READY:
        return op.attempt + 1
    return max(op.attempt, 1)


def _fail_or_retry(
    state: InvocationState, scope: Scope, op_id: str, options: StepOptions, attempt: int,
    error: Exception, started: float | None = None,
) -> NoReturn:
    """Record the failed attempt; suspend for the retry, or raise the step's final failure."""
    record = ErrorRecord.from_exception(error)
    details = {"attempt_started_at": started} if started is not None else None
    decision = options.retry.decide(attempt, error)
    if decision.retry:
        state.record(_update(op_id, scope, options, OperationAction.RETRY, error=record,
                             delay=decision.delay, details=details))
        raise Suspend(f'step "{options.name}" retries in {decision.delay:.3f}s')
    state.record(_update(op_id, scope, options, OperationAction.FAIL, error=record,
                         details=details))
    raise _step_failed(state, op_id, options.name, attempt, record) from error


def step_failed(state: InvocationState, op: Operation) -> StepFailed:
    """The error a recorded failure re-raises, identical on first run and on replay."""
    record = op.error or ErrorRecord(type="Unknown", message="(no error recorded)")
    return _step_failed(state, op.id, op.name or "", op.attempt, record)


def _step_failed(
    state: InvocationState, op_id: str, name: str, attempt: int, record: ErrorRecord
) -> StepFailed:
    return StepFailed(
        f'Step "{name}" (operation #{op_id}) of execution "{state.execution_id}" failed after '
        f"{attempt} attempt(s): {record.type}: {record.message}",
        execution_id=state.execution_id, operation_id=op_id, step=name, attempts=attempt,
        error_type=record.type, error_message=record.message, error_mro=record.mro,
    )


def _update(
    op_id: str, scope: Scope, options: StepOptions, action: OperationAction, *,
    payload: str | None = None, error: ErrorRecord | None = None, delay: float | None = None,
    details: dict[str, Any] | None = None,
) -> OperationUpdate:
    return OperationUpdate(
        id=op_id, parent_id=scope.parent_id, type=OperationType.STEP, action=action,
        name=options.name, payload=payload, error=error, delay=delay, details=details,
    )


@functools.lru_cache(maxsize=4096)
def _body_facts(fn: Callable[..., Any]) -> tuple[Any, bool]:
    """A step body's declared return type, and whether it takes a StepContext first (cached:
    this is asked once per step)."""
    hints = parameter_hints(fn)
    return return_hint(fn), bool(hints) and hints[0] is StepContext

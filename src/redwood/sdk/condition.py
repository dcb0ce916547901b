"""``ctx.wait_for_condition``: durable polling.

``check(state) -> new_state`` runs like a step body; each new state is recorded. When
``strategy.until(new_state)`` is true the wait returns that state; otherwise the execution
suspends (STEP "WaitForCondition" PENDING, due at the next check) and checks again later, with
delays growing by the strategy's back-off, until ``max_attempts`` checks have failed to meet the
condition (ConditionNotMet). A check (or ``until``) that raises fails the operation (StepFailed).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from redwood.durations import ONE_YEAR
from redwood.errors import ConditionNotMet, ValidationError
from redwood.model import ErrorRecord, Operation, OperationUpdate
from redwood.sdk.effects import FLUSH, Call, Flow
from redwood.sdk.signals import Suspend
from redwood.sdk.state import InvocationState, Scope
from redwood.sdk.step import step_failed
from redwood.serde import Codec, return_hint
from redwood.types import WAIT_FOR_CONDITION, OperationAction, OperationStatus, OperationType

S = TypeVar("S")

_NOT_MET = f"{ConditionNotMet.__module__}.{ConditionNotMet.__qualname__}"


@dataclass(frozen=True, slots=True)
class WaitStrategy(Generic[S]):
    """When the condition is met (``until``), and how long to wait between checks.

    The first check runs at once; after check n fails the condition the next runs
    ``initial_delay * backoff_rate ** (n - 1)`` seconds later, capped at ``max_delay`` and
    shortened by up to ``jitter`` (a fraction) at random, never below one second.
    """

    until: Callable[[S], bool]
    initial_delay: float = 5.0
    backoff_rate: float = 1.5
    max_delay: float = 300.0
    jitter: float = 0.0
    max_attempts: int = 60

    def __post_init__(self) -> None:
        problems = []
        if not callable(self.until):
            problems.append(f"until must be a function state -> bool (got {self.until!r})")
        if not 1 <= self.initial_delay <= ONE_YEAR:
            problems.append(f"initial_delay must be 1 second to 1 year (got {self.initial_delay})")
        if not self.initial_delay <= self.max_delay <= ONE_YEAR:
            problems.append(f"max_delay ({self.max_delay}) must be >= initial_delay "
                            f"({self.initial_delay}) and at most 1 year")
        if not self.backoff_rate >= 1:
            problems.append(f"backoff_rate must be >= 1 (got {self.backoff_rate})")
        if not 0 <= self.jitter <= 1:
            problems.append(f"jitter must be between 0 and 1 (got {self.jitter})")
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) \
                or self.max_attempts < 1:
            problems.append(f"max_attempts must be an int >= 1 (got {self.max_attempts!r})")
        if problems:
            raise ValidationError(
                "Invalid WaitStrategy: " + "; ".join(problems)
                + ". For example WaitStrategy(until=lambda s: s['done'], initial_delay=10).",
                problems=problems,
            )

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after check ``attempt`` (1-based) did not meet the condition."""
        exponent = min(attempt - 1, 1024)  # beyond this the cap applies anyway
        base = min(self.max_delay, self.initial_delay * self.backoff_rate ** exponent)
        if math.isinf(base):
            base = self.max_delay
        return max(1.0, base - base * self.jitter * random.random())


def wait_for_condition_flow(
    state: InvocationState, scope: Scope, check: Callable[..., Any], initial_state: Any,
    strategy: WaitStrategy[Any], name: str, codec: Codec,
) -> Flow[Any]:
    """Check, record the state, and wait between checks until the condition is met."""
    op_id = scope.next_id()
    op = state.lookup(op_id, OperationType.STEP, WAIT_FOR_CONDITION, name, scope.parent_id)
    hint = return_hint(check)
    what = f'the state of condition "{name}" (operation #{op_id})'
    if op is not None:
        if op.status is OperationStatus.SUCCEEDED:
            return codec.decode(op.result, hint, what)
        if op.status is OperationStatus.FAILED:
            raise _recorded_failure(state, op)
        if op.status is OperationStatus.PENDING:
            raise Suspend(f'condition "{name}" waits for its next check')
    attempt = 1 if op is None else op.attempt + 1
    current = initial_state if op is None else codec.decode(op.result, hint, what)
    # Earlier results must be durable before the check's side effects can happen.
    yield FLUSH
    started = state.clock.now()
    try:
        new_state = yield Call(check, (current,), {})
        text = codec.encode(new_state, what)
        met = bool(strategy.until(codec.decode(text, hint, what)))
    except Exception as error:
        update = _update(op_id, scope, name, OperationAction.FAIL, started,
                         error=ErrorRecord.from_exception(error))
        state.record(update)
        raise step_failed(state, _failed_check(update, attempt)) from error
    if met:
        state.record(_update(op_id, scope, name, OperationAction.SUCCEED, started, payload=text))
        if state.options.always_replay:
            raise Suspend("always-replay mode", immediate=True)
        return codec.decode(text, hint, what)
    if attempt >= strategy.max_attempts:
        not_met = _not_met(state, op_id, name, attempt, text)
        state.record(_update(op_id, scope, name, OperationAction.FAIL, started, payload=text,
                             error=ErrorRecord.from_exception(not_met)))
        raise not_met
    delay = strategy.delay_after(attempt)
    state.record(_update(op_id, scope, name, OperationAction.RETRY, started, payload=text,
                         delay=delay))
    raise Suspend(f'condition "{name}" checks again in {delay:.3f}s')


def _failed_check(update: OperationUpdate, attempt: int) -> Operation:
    # The failed check as the journal will hold it, so it is worded the same as on replay.
    return Operation(id=update.id, parent_id=update.parent_id, type=update.type,
                     subtype=update.subtype, name=update.name, status=OperationStatus.FAILED,
                     attempt=attempt, error=update.error)


def _recorded_failure(state: InvocationState, op: Operation) -> Exception:
    if op.error is not None and op.error.type == _NOT_MET:
        return _not_met(state, op.id, op.name or "", op.attempt, op.result)
    return step_failed(state, op)


def _not_met(
    state: InvocationState, op_id: str, name: str, attempts: int, text: str | None
) -> ConditionNotMet:
    shown = text if text is None or len(text) <= 200 else text[:200] + "..."
    return ConditionNotMet(
        f'Condition "{name}" (operation #{op_id}) of execution "{state.execution_id}" was still '
        f"not met after {attempts} check(s); the last state was {shown}. Allow more checks or "
        "longer delays in the WaitStrategy, or catch ConditionNotMet.",
        execution_id=state.execution_id, operation_id=op_id, condition=name, attempts=attempts,
        last_state=text,
    )


def _update(
    op_id: str, scope: Scope, name: str, action: OperationAction, started: float, *,
    payload: str | None = None, error: ErrorRecord | None = None, delay: float | None = None,
) -> OperationUpdate:
    return OperationUpdate(
        id=op_id, parent_id=scope.parent_id, type=OperationType.STEP, action=action, name=name,
        subtype=WAIT_FOR_CONDITION, payload=payload, error=error, delay=delay,
        details={"attempt_started_at": started},
    )

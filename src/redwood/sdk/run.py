"""One invocation of a durable function: run it over the journal until it ends or suspends."""

from __future__ import annotations

import enum
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import field
from typing import Any

from redwood.model import ErrorRecord, OperationUpdate
from redwood.records import record
from redwood.retry import RetryPolicy
from redwood.sdk.context import AsyncDurableContext, DurableContext
from redwood.sdk.signals import Stop, Suspend
from redwood.sdk.state import InvocationState, Scope
from redwood.serde import parameter_hints


class Ending(enum.Enum):
    """How an invocation ended."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SUSPENDED = "SUSPENDED"
    STOPPED = "STOPPED"
    TIMED_OUT = "TIMED_OUT"


@record
class InvocationOutcome:
    """The invocation's end, with the checkpoint updates not yet durable.

    A SUSPENDED outcome with an ``error`` is an invocation that failed without ending its
    execution (it crashed); ``retry_after`` then says when to run it again, in seconds.
    """

    ending: Ending
    result: str | None = None
    error: ErrorRecord | None = None
    immediate: bool = False
    pending: list[OperationUpdate] = field(default_factory=list)
    retry_after: float | None = None


def _arguments(
    fn: Callable[..., Any], ctx: Any, state: InvocationState, payload: str | None
) -> tuple[Any, ...]:
    hints = parameter_hints(fn)
    if len(hints) < 2:
        return (ctx,)
    what = f'the input of execution "{state.execution_id}"'
    return (ctx, state.codec.decode(payload, hints[1], what))


def _succeeded(state: InvocationState, value: Any) -> InvocationOutcome:
    if state.fatal is not None:
        # User code caught a NonDeterminism and returned anyway: the run is still broken.
        return _failed(state, state.fatal)
    what = f'the result of execution "{state.execution_id}"'
    try:
        text = state.codec.encode(value, what)
    except Exception as error:
        return _failed(state, error)
    return InvocationOutcome(Ending.SUCCEEDED, result=text, pending=state.take_pending())


def _failed(state: InvocationState, error: BaseException) -> InvocationOutcome:
    record = ErrorRecord.from_exception(state.fatal or error)
    return InvocationOutcome(Ending.FAILED, error=record, pending=state.take_pending())


def _ended(state: InvocationState, signal: BaseException) -> InvocationOutcome:
    if state.fatal is not None:
        return _failed(state, state.fatal)
    if isinstance(signal, Stop):
        return InvocationOutcome(Ending.STOPPED, pending=state.take_pending())
    assert isinstance(signal, Suspend)
    return InvocationOutcome(Ending.SUSPENDED, immediate=signal.immediate,
                             pending=state.take_pending())


def run_sync(
    fn: Callable[..., Any], state: InvocationState, payload: str | None, default_retry: RetryPolicy
) -> InvocationOutcome:
    """Run a sync durable function in the calling thread."""
    ctx = DurableContext(state, Scope(None), default_retry)
    try:
        value = fn(*_arguments(fn, ctx, state, payload))
    except (Suspend, Stop) as signal:
        return _ended(state, signal)
    except Exception as error:
        return _failed(state, error)
    return _succeeded(state, value)


async def run_async(
    fn: Callable[..., Any], state: InvocationState, payload: str | None,
    default_retry: RetryPolicy, io: Executor,
) -> InvocationOutcome:
    """Run an async durable function on the running event loop."""
    ctx = AsyncDurableContext(state, Scope(None), default_retry, io)
    try:
        value = await fn(*_arguments(fn, ctx, state, payload))
    except (Suspend, Stop) as signal:
        return _ended(state, signal)
    except Exception as error:
        return _failed(state, error)
    return _succeeded(state, value)


"""One pipeline for sync and async code: operations are generators that yield effects, and two
small drivers carry the effects out, one blocking, one awaiting."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Generator
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar

from redwood.errors import StepTimedOut, ValidationError
from redwood.records import record
from redwood.sdk.lanes import current_lane
from redwood.sdk.state import InvocationState

T = TypeVar("T")


@record
class Call:
    """Run user code (a step body); the flow receives its return value or its exception.
    ``timeout`` (async only) bounds the run in real seconds: past it, StepTimedOut."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    timeout: float | None = None


@record
class Flush:
    """Make queued checkpoint updates durable before going on: all of them, or (``causal``)
    only when the running lane depends on one of them (see lanes.py)."""

    causal: bool = False


FLUSH = Flush()
DEPENDENCIES = Flush(causal=True)
Effect = Call | Flush
Flow = Generator[Effect, Any, T]

# Exact types of values that are never awaitable.
_PLAIN = frozenset({type(None), bool, int, float, str, dict, list, tuple})


def drive(flow: Flow[T], state: InvocationState) -> T:
    """Carry out ``flow`` in the calling thread."""
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            effect = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(effect, Call):
                value = effect.fn(*effect.args, **effect.kwargs)
                # Plain data is never awaitable, and the ABC check costs: skip it, once per step.
                if type(value) not in _PLAIN and inspect.isawaitable(value):
                    _close(value)
                    raise _async_in_sync(effect.fn)
            elif effect.causal:
                state.flush_for(current_lane.get())
            else:
                state.flush()
        except Exception as raised:
            error = raised


async def adrive(flow: Flow[T], state: InvocationState, io: Executor) -> T:
    """Carry out ``flow`` on the running event loop; blocking work goes to threads."""
    loop = asyncio.get_running_loop()
    value: Any = None
    error: Exception | None = None
    while True:
        try:
            effect = flow.send(value) if error is None else flow.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        value, error = None, None
        try:
            if isinstance(effect, Call) and effect.timeout is not None:
                value = await _call_with_timeout(loop, effect, effect.timeout)
            elif isinstance(effect, Call):
                value = await _call_async(loop, effect)
            elif state.may_need_flush(lane := current_lane.get(), effect.causal):
                await state.aflush(lane, effect.causal, io)
        except Exception as raised:
            error = raised


async def _call_async(loop: asyncio.AbstractEventLoop, call: Call) -> Any:
    if inspect.iscoroutinefunction(call.fn):
        return await call.fn(*call.args, **call.kwargs)
    # A sync body must not block the loop that runs every other async execution.
    value = await loop.run_in_executor(None, partial(call.fn, *call.args, **call.kwargs))
    if inspect.isawaitable(value):
        return await value
    return value


async def _call_with_timeout(loop: asyncio.AbstractEventLoop, call: Call, timeout: float) -> Any:
    try:
        return await asyncio.wait_for(_call_async(loop, call), timeout)
    except TimeoutError:
        name = getattr(call.fn, "__qualname__", repr(call.fn))
        raise StepTimedOut(
            f"Step function {name!r} did not finish within its timeout of {timeout:g}s; the "
            "attempt counts as failed (a sync body keeps running in its thread). Raise the "
            "timeout, or make the body faster.",
            function=name, timeout=timeout,
        ) from None


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


def _async_in_sync(fn: Callable[..., Any]) -> ValidationError:
    name = getattr(fn, "__qualname__", repr(fn))
    return ValidationError(
        f"Step function {name!r} is async, but the durable function calling it is sync. "
        "Make the durable function `async def` and `await ctx.step(...)`, or make the step sync.",
        function=name,
    )

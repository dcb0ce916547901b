"""``DurableContext`` (for ``def``) and ``AsyncDurableContext`` (for ``async def``).

Both are thin faces over the same operation flows; the sync one drives them in the calling
thread, the async one on the event loop.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import Executor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple, overload

from redwood.durations import Duration, seconds
from redwood.errors import ValidationError
from redwood.retry import RetryPolicy
from redwood.sdk import fanout, patch, values
from redwood.sdk import wait as wait_op
from redwood.sdk.batch import BatchResult, CompletionPolicy
from redwood.sdk.callback import (
    AsyncCallback,
    Callback,
    callback_options,
    create_flow,
    wait_for_callback_flow,
)
from redwood.sdk.child import RUN_IN_CHILD_CONTEXT, ContextSpec, child_scope, context_flow
from redwood.sdk.condition import WaitStrategy, wait_for_condition_flow
from redwood.sdk.coordinator import BatchSpec
from redwood.sdk.effects import Flow, adrive, drive
from redwood.sdk.event import event_timeout, wait_for_event_flow
from redwood.sdk.invoke import invoke_flow
from redwood.sdk.runners import TaskRunner, ThreadRunner
from redwood.sdk.saga import AsyncSagaBlock, SagaBlock
from redwood.sdk.state import InvocationState, Scope
from redwood.sdk.step import StepContext, StepOptions, step_flow
from redwood.serde import Codec, Serde, return_hint
from redwood.types import StepSemantics

if TYPE_CHECKING:
    # Only for the types of ctx.invoke; the SDK reaches the engine through the seam alone.
    from redwood.engine.registry import DurableFunction

T = TypeVar("T")
S = TypeVar("S")
I = TypeVar("I")  # noqa: E741
Ts = TypeVarTuple("Ts")

_logger = logging.getLogger("redwood.execution")


class ReplayAwareLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger that stays silent while the function replays what it already did."""

    def __init__(self, state: InvocationState) -> None:
        super().__init__(_logger, {"execution_id": state.execution_id})
        self._state = state

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self._state.replaying:
            super().log(level, msg, *args, **kwargs)

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs.setdefault("extra", {}).update(self.extra or {})
        return msg, kwargs


def _name_of(fn: Callable[..., Any], default: str) -> str:
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else default


class _Base:
    """What both faces share: the invocation state, this context's scope, and defaults."""

    def __init__(self, state: InvocationState, scope: Scope, default_retry: RetryPolicy) -> None:
        self._state = state
        self._scope = scope
        self._default_retry = default_retry
        self.logger = ReplayAwareLogger(state)

    def _codec(self, serde: Serde | None) -> Codec:
        codec = self._state.codec
        return codec if serde is None else Codec(serde, codec.max_bytes)

    def _child_flow(self, fn: Callable[..., Any], name: str | None, serde: Serde | None,
                    make_ctx: Callable[[Scope], Any]) -> Flow[Any]:
        op_id = self._scope.next_id()
        spec = ContextSpec(op_id, self._scope.parent_id, RUN_IN_CHILD_CONTEXT,
                           name or getattr(fn, "__name__", None), self._codec(serde),
                           return_hint(fn))
        return context_flow(self._state, spec, fn, (make_ctx(child_scope(self._scope, op_id)),))

    def _invoke_flow(self, function: Any, payload: Any, name: str | None,
                     serde: Serde | None) -> Flow[Any]:
        function_name = function if isinstance(function, str) else function.name
        hint = None if isinstance(function, str) else return_hint(function.fn)
        return invoke_flow(self._state, self._scope, function_name, payload,
                           name or function_name, self._codec(serde), hint)

    @property
    def execution_id(self) -> str:
        """The id of the running execution."""
        return self._state.execution_id

    @property
    def is_replaying(self) -> bool:
        """True while the function re-walks operations the journal already holds."""
        return self._state.replaying

    def now(self) -> float:
        """The current time (epoch seconds), recorded on first run and the same on every replay."""
        return float(values.value(self._state, self._scope, "now", self._state.clock.now))

    def random(self) -> float:
        """A random float in [0, 1), recorded on first run and the same on every replay."""
        return float(values.value(self._state, self._scope, "random", random.random))

    def uuid4(self) -> uuid.UUID:
        """A random UUID, recorded on first run and the same on every replay."""
        return uuid.UUID(values.value(self._state, self._scope, "uuid4", lambda: str(uuid.uuid4())))

    def patched(self, patch_id: str) -> bool:
        """True where code changed under ``patch_id`` applies (see docs/versioning.md)."""
        return patch.patched(self._state, self._scope, patch_id)

    def _step_options(
        self, fn: Callable[..., Any], name: str | None, retry: RetryPolicy | None,
        semantics: StepSemantics, serde: Serde | None,
    ) -> StepOptions:
        if type(semantics) is not StepSemantics:  # a plain string: an enum call costs, per step
            semantics = StepSemantics(semantics)
        return StepOptions(
            name=name or str(getattr(fn, "__name__", "step")),
            retry=retry if retry is not None else self._default_retry,
            semantics=semantics, codec=self._codec(serde),
        )

    def _wait_seconds(self, duration: Duration) -> float:
        return seconds(duration, "ctx.wait duration")

    def _wait_for_callback(
        self, submitter: Callable[..., Any], name: str | None, timeout: Duration | None,
        heartbeat_timeout: Duration | None, retry: RetryPolicy | None,
    ) -> Flow[Any]:
        options = callback_options(name or _name_of(submitter, "callback"), timeout,
                                   heartbeat_timeout)
        step = self._step_options(submitter, f"{options.name} submitter", retry,
                                  StepSemantics.AT_LEAST_ONCE_PER_RETRY, None)
        return wait_for_callback_flow(self._state, self._scope, submitter, options, step)

    def _wait_for_condition(
        self, check: Callable[..., Any], initial_state: Any, strategy: WaitStrategy[Any],
        name: str | None,
    ) -> Flow[Any]:
        if not isinstance(strategy, WaitStrategy):
            raise ValidationError(
                f"wait_for_condition: strategy must be a WaitStrategy, got {strategy!r}. For "
                "example strategy=WaitStrategy(until=lambda state: state['done']).",
            )
        return wait_for_condition_flow(self._state, self._scope, check, initial_state, strategy,
                                       name or _name_of(check, "condition"),
                                       self._state.codec)


class DurableContext(_Base):
    """The first argument of a sync durable function."""

    @overload
    def step(
        self, fn: Callable[[StepContext, *Ts], T], /, *args: *Ts, name: str | None = None,
        retry: RetryPolicy | None = None,
        semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        serde: Serde | None = None,
    ) -> T: ...

    @overload
    def step(
        self, fn: Callable[[*Ts], T], /, *args: *Ts, name: str | None = None,
        retry: RetryPolicy | None = None,
        semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        serde: Serde | None = None,
    ) -> T: ...

    # mypy cannot match a TypeVarTuple overload to any implementation signature; the overloads
    # above are what callers are checked against.
    def step(  # type: ignore[misc]
        self, fn: Callable[..., T], /, *args: Any, name: str | None = None,
        retry: RetryPolicy | None = None,
        semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        serde: Serde | None = None,
    ) -> T:
        """Run ``fn(*args)`` as a durable step: once per attempt, replayed from the journal."""
        options = self._step_options(fn, name, retry, semantics, serde)
        return drive(step_flow(self._state, self._scope, fn, args, {}, options), self._state)

    def wait(self, duration: Duration, *, name: str | None = None) -> None:
        """Sleep durably for ``duration`` (1 second to 1 year) without holding a thread."""
        wait_op.wait(self._state, self._scope, self._wait_seconds(duration), name)

    def create_callback(
        self, *, name: str | None = None, timeout: Duration | None = None,
        heartbeat_timeout: Duration | None = None,
    ) -> Callback:
        """A callback to hand to another system; ``result()`` waits for its answer."""
        options = callback_options(name, timeout, heartbeat_timeout)
        return Callback(self._state, drive(create_flow(self._state, self._scope, options),
                                           self._state))

    def wait_for_callback(
        self, submitter: Callable[..., Any], /, *, name: str | None = None,
        timeout: Duration | None = None, heartbeat_timeout: Duration | None = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """Create a callback, run ``submitter(callback_id)`` as a step, and wait for the answer."""
        flow = self._wait_for_callback(submitter, name, timeout, heartbeat_timeout, retry)
        return drive(flow, self._state)

    def wait_for_event(self, name: str, *, timeout: Duration | None = None) -> Any:
        """The payload of the next event ``name`` sent to this execution (EventTimedOut when
        none arrives within ``timeout``; None waits without limit)."""
        flow = wait_for_event_flow(self._state, self._scope, name, event_timeout(timeout))
        return drive(flow, self._state)

    def wait_for_condition(
        self, check: Callable[[S], S], /, *, initial_state: S, strategy: WaitStrategy[S],
        name: str | None = None,
    ) -> S:
        """Poll durably: ``check(state)`` until ``strategy.until(state)``, waiting in between."""
        flow = self._wait_for_condition(check, initial_state, strategy, name)
        return drive(flow, self._state)  # type: ignore[no-any-return]
    # --- trees of work (docs/trees.md) ---------------------------------------------------------

    def _child(self, scope: Scope) -> DurableContext:
        return DurableContext(self._state, scope, self._default_retry)

    def _run_batch(self, spec: BatchSpec) -> BatchResult[Any]:
        run = ThreadRunner(self._child, self._state.options.branch_threads).run
        return drive(fanout.batch_flow(self._state, self._scope, spec, run), self._state)

    def run_in_child_context(
        self, fn: Callable[[DurableContext], T], /, *, name: str | None = None,
        serde: Serde | None = None,
    ) -> T:
        """Run ``fn(child_ctx)`` with its operations grouped under one operation; once it has
        completed, replays return its recorded result (or re-raise ChildContextFailed)."""
        return drive(self._child_flow(fn, name, serde, self._child), self._state)  # type: ignore[no-any-return]

    def map(
        self, items: Iterable[I], fn: Callable[[DurableContext, I], T], /, *,
        name: str | None = None, max_concurrency: int | None = None,
        min_successful: int | None = None, tolerated_failure_count: int | None = None,
        tolerated_failure_percentage: float | None = None, serde: Serde | None = None,
    ) -> BatchResult[T]:
        """Run ``fn(ctx, item)`` for every item concurrently (threads), each in its own child
        context; fail-fast unless a completion policy says otherwise."""
        policy = CompletionPolicy(min_successful, tolerated_failure_count,
                                  tolerated_failure_percentage)
        spec = fanout.map_spec(items, fn, name, self._codec(serde), max_concurrency, policy)
        return self._run_batch(spec)

    def parallel(
        self, branches: Iterable[Callable[[DurableContext], T]], /, *, name: str | None = None,
        max_concurrency: int | None = None, min_successful: int | None = None,
        tolerated_failure_count: int | None = None,
        tolerated_failure_percentage: float | None = None, serde: Serde | None = None,
    ) -> BatchResult[T]:
        """Run each ``branch(ctx)`` concurrently (threads) in its own child context; by
        default all must succeed."""
        policy = CompletionPolicy(min_successful, tolerated_failure_count,
                                  tolerated_failure_percentage)
        spec = fanout.parallel_spec(branches, name, self._codec(serde), max_concurrency, policy)
        return self._run_batch(spec)

    @overload
    def invoke(self, function: DurableFunction[I, T], payload: I, /, *,
               name: str | None = None, serde: Serde | None = None) -> T: ...

    @overload
    def invoke(self, function: str, payload: Any = None, /, *,
               name: str | None = None, serde: Serde | None = None) -> Any: ...

    def invoke(self, function: Any, payload: Any = None, /, *, name: str | None = None,
               serde: Serde | None = None) -> Any:
        """Run another durable function as a child execution and wait for it: its result, or
        InvokeFailed when it ends FAILED, TIMED_OUT or STOPPED."""
        return drive(self._invoke_flow(function, payload, name, serde), self._state)

    def saga(self, name: str = "saga", *, retry: RetryPolicy | None = None) -> SagaBlock:
        """``with ctx.saga() as saga:`` - on failure, run ``saga.add``-ed compensations in
        reverse order (each a retried step), then re-raise."""
        return SagaBlock(self._state, self._scope, name, retry or self._default_retry)


class AsyncDurableContext(_Base):
    """The first argument of an async durable function."""

    def __init__(
        self, state: InvocationState, scope: Scope, default_retry: RetryPolicy, io: Executor
    ) -> None:
        super().__init__(state, scope, default_retry)
        self._io = io

    @overload
    async def step(
        self, fn: Callable[[StepContext, *Ts], Awaitable[T]], /, *args: *Ts,
        name: str | None = None, retry: RetryPolicy | None = None,
        semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        serde: Serde | None = None, timeout: Duration | None = None,
    ) -> T: ...

    @overload
    async def step(
        self, fn: Callable[[*Ts], Awaitable[T]], /, *args: *Ts, name: str | None = None,
        retry: RetryPolicy | None = None,
        semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        serde: Serde | None = None, timeout: Duration | None = None,
    ) -> T: ...

    @overload
    async def step(
        self, fn: Callable[[*Ts], T], /, *args: *Ts, name: str | None = None,
        retry: RetryPolicy | None = None,
        semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        serde: Serde | None = None, timeout: Duration | None = None,
    ) -> T: ...

    # mypy cannot check an implementation taking *args: Any against *Ts overloads.
    async def step(  # type: ignore[misc]
        self, fn: Callable[..., Any], /, *args: Any, name: str | None = None,
        retry: RetryPolicy | None = None,
        semantics: StepSemantics = StepSemantics.AT_LEAST_ONCE_PER_RETRY,
        serde: Serde | None = None, timeout: Duration | None = None,
    ) -> Any:
        """Run ``fn(*args)`` (sync or async) as a durable step. ``timeout`` bounds each
        attempt (real seconds): past it the attempt fails with StepTimedOut and may retry."""
        options = self._step_options(fn, name, retry, semantics, serde)
        if timeout is not None:
            options = replace(options, timeout=seconds(timeout, "ctx.step timeout",
                                                        minimum=0.001))
        flow = step_flow(self._state, self._scope, fn, args, {}, options)
        return await adrive(flow, self._state, self._io)

    async def wait(self, duration: Duration, *, name: str | None = None) -> None:
        """Sleep durably for ``duration`` (1 second to 1 year) without holding a thread."""
        wait_op.wait(self._state, self._scope, self._wait_seconds(duration), name)

    async def create_callback(
        self, *, name: str | None = None, timeout: Duration | None = None,
        heartbeat_timeout: Duration | None = None,
    ) -> AsyncCallback:
        """A callback to hand to another system; ``await result()`` waits for its answer."""
        options = callback_options(name, timeout, heartbeat_timeout)
        op = await adrive(create_flow(self._state, self._scope, options), self._state, self._io)
        return AsyncCallback(self._state, op)

    async def wait_for_callback(
        self, submitter: Callable[..., Any], /, *, name: str | None = None,
        timeout: Duration | None = None, heartbeat_timeout: Duration | None = None,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """Create a callback, run ``submitter(callback_id)`` (sync or async) as a step, and wait
        for the answer."""
        flow = self._wait_for_callback(submitter, name, timeout, heartbeat_timeout, retry)
        return await adrive(flow, self._state, self._io)

    async def wait_for_event(self, name: str, *, timeout: Duration | None = None) -> Any:
        """The payload of the next event ``name`` sent to this execution (EventTimedOut when
        none arrives within ``timeout``; None waits without limit)."""
        flow = wait_for_event_flow(self._state, self._scope, name, event_timeout(timeout))
        return await adrive(flow, self._state, self._io)

    async def wait_for_condition(
        self, check: Callable[[S], Awaitable[S]] | Callable[[S], S], /, *, initial_state: S,
        strategy: WaitStrategy[S], name: str | None = None,
    ) -> S:
        """Poll durably: ``check(state)`` (sync or async) until ``strategy.until(state)``."""
        flow = self._wait_for_condition(check, initial_state, strategy, name)
        return await adrive(flow, self._state, self._io)
    # --- trees of work (docs/trees.md) ---------------------------------------------------------

    def _child(self, scope: Scope) -> AsyncDurableContext:
        return AsyncDurableContext(self._state, scope, self._default_retry, self._io)

    async def _run_batch(self, spec: BatchSpec) -> BatchResult[Any]:
        run = TaskRunner(self._child, self._io).run
        flow = fanout.batch_flow(self._state, self._scope, spec, run)
        return await adrive(flow, self._state, self._io)

    async def run_in_child_context(
        self, fn: Callable[[AsyncDurableContext], Awaitable[T]], /, *, name: str | None = None,
        serde: Serde | None = None,
    ) -> T:
        """Run ``await fn(child_ctx)`` with its operations grouped under one operation; once it
        has completed, replays return its recorded result (or re-raise ChildContextFailed)."""
        flow = self._child_flow(fn, name, serde, self._child)
        return await adrive(flow, self._state, self._io)

    async def map(
        self, items: Iterable[I], fn: Callable[[AsyncDurableContext, I], Awaitable[T]], /, *,
        name: str | None = None, max_concurrency: int | None = None,
        min_successful: int | None = None, tolerated_failure_count: int | None = None,
        tolerated_failure_percentage: float | None = None, serde: Serde | None = None,
    ) -> BatchResult[T]:
        """Run ``await fn(ctx, item)`` for every item concurrently (tasks), each in its own
        child context; fail-fast unless a completion policy says otherwise."""
        policy = CompletionPolicy(min_successful, tolerated_failure_count,
                                  tolerated_failure_percentage)
        spec = fanout.map_spec(items, fn, name, self._codec(serde), max_concurrency, policy)
        return await self._run_batch(spec)

    async def parallel(
        self, branches: Iterable[Callable[[AsyncDurableContext], Awaitable[T]]], /, *,
        name: str | None = None, max_concurrency: int | None = None,
        min_successful: int | None = None, tolerated_failure_count: int | None = None,
        tolerated_failure_percentage: float | None = None, serde: Serde | None = None,
    ) -> BatchResult[T]:
        """Run each ``await branch(ctx)`` concurrently (tasks) in its own child context; by
        default all must succeed."""
        policy = CompletionPolicy(min_successful, tolerated_failure_count,
                                  tolerated_failure_percentage)
        spec = fanout.parallel_spec(branches, name, self._codec(serde), max_concurrency, policy)
        return await self._run_batch(spec)

    @overload
    async def invoke(self, function: DurableFunction[I, T], payload: I, /, *,
                     name: str | None = None, serde: Serde | None = None) -> T: ...

    @overload
    async def invoke(self, function: str, payload: Any = None, /, *,
                     name: str | None = None, serde: Serde | None = None) -> Any: ...

    async def invoke(self, function: Any, payload: Any = None, /, *, name: str | None = None,
                     serde: Serde | None = None) -> Any:
        """Run another durable function as a child execution and wait for it: its result, or
        InvokeFailed when it ends FAILED, TIMED_OUT or STOPPED."""
        flow = self._invoke_flow(function, payload, name, serde)
        return await adrive(flow, self._state, self._io)

    def saga(self, name: str = "saga", *, retry: RetryPolicy | None = None) -> AsyncSagaBlock:
        """``async with ctx.saga() as saga:`` - on failure, run ``saga.add``-ed compensations
        in reverse order (each a retried step), then re-raise."""
        return AsyncSagaBlock(self._state, self._scope, name, retry or self._default_retry,
                              self._io)


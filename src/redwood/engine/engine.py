"""The engine: starts executions, hands claims to invocations, and wakes whoever waits."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from redwood.clock import Clock
from redwood.durations import Duration, seconds
from redwood.engine.invocation import Invocation
from redwood.engine.registry import DurableFunction, Registry
from redwood.engine.tree import Tree, timed_out
from redwood.errors import ExecutionConflict, ResultTimeout, UnknownExecution, ValidationError
from redwood.model import Claim, Execution
from redwood.retry import RetryPolicy
from redwood.sdk.run import Ending, InvocationOutcome, run_async, run_sync
from redwood.sdk.state import InvocationState, Options
from redwood.serde import Codec, parameter_hints
from redwood.store.base import JournalWrite, NewExecution, Store
from redwood.types import ExecutionStatus

_MAX_ID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Settings:
    """How an app's engine behaves."""

    max_payload_bytes: int = 1 << 20
    always_replay: bool = False
    lease_seconds: float = 30.0
    default_retry: RetryPolicy = field(default_factory=RetryPolicy.default)


class Notifier:
    """In-process wake-ups. Workers listen to everything; a result waiter listens to one
    execution, so finishing one execution wakes one waiter, not all of them."""

    def __init__(self) -> None:
        self._listeners: set[Callable[[], None]] = set()
        self._by_execution: dict[str, set[Callable[[], None]]] = {}
        self._lock = threading.Lock()

    def subscribe(self, listener: Callable[[], None], execution_id: str | None = None) -> None:
        with self._lock:
            if execution_id is None:
                self._listeners.add(listener)
            else:
                self._by_execution.setdefault(execution_id, set()).add(listener)

    def unsubscribe(self, listener: Callable[[], None], execution_id: str | None = None) -> None:
        with self._lock:
            if execution_id is None:
                self._listeners.discard(listener)
                return
            listeners = self._by_execution.get(execution_id)
            if listeners is not None:
                listeners.discard(listener)
                if not listeners:
                    del self._by_execution[execution_id]

    def publish(self, execution_id: str | None = None, work: bool = True) -> None:
        """Wake the waiters of ``execution_id`` if given, and the workers when ``work`` may be
        ready (an execution that just finished gives workers nothing to do)."""
        with self._lock:
            listeners = list(self._listeners) if work else []
            if execution_id is not None:
                listeners.extend(self._by_execution.get(execution_id, ()))
        for listener in listeners:
            listener()


class LocalDispatch(Protocol):
    """A worker in this process that can take a new execution directly, skipping the claim."""

    worker_id: str
    lease_seconds: float

    def reserve(self) -> bool: ...

    def unreserve(self) -> None: ...

    def submit(self, claim: Claim) -> None: ...


class Engine:
    """Owns the store, the registry and the clock; never runs user code except in an invocation."""

    def __init__(self, store: Store, registry: Registry, clock: Clock, settings: Settings) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self.settings = settings
        self.notifier = Notifier()
        # Commits by other processes (where the store can tell) wake workers and result waiters
        # here at once, without waiting for their next look at the change marker.
        # With pushed news a waiter hears of its own execution; the change marker (any commit
        # anywhere) is then only a safety net, checked now and then instead of every 20 ms.
        self._marker_poll = 1.0 if store.watch(self._heard) else 0.02
        self.codec = Codec(max_bytes=settings.max_payload_bytes)
        self.local: LocalDispatch | None = None
        self.tree = Tree(registry, self.notifier.publish)
        # Shared by every invocation's sync map/parallel branches; idle threads cost nothing.
        self.branch_threads = ThreadPoolExecutor(256, thread_name_prefix="redwood-branch")
        self._live: dict[str, Invocation] = {}
        # Started here and handed to this process's worker, whose invocation has not begun yet:
        # a result waiter can count on the end being announced, as for a live one.
        self._coming: set[str] = set()
        # Async invocations scheduled on the worker's event loop and not done (_loop_shared).
        self._async_scheduled = 0
        self._async_lock = threading.Lock()

    def _heard(self, execution_id: str, ready: bool) -> None:
        # News from the store: a finished execution wakes its result waiters, not the workers.
        self.notifier.publish(execution_id, work=ready)

    # --- starting ------------------------------------------------------------------------------

    def start(
        self, function: str, payload: Any, execution_id: str | None = None,
        timeout: Duration | None = None,
    ) -> tuple[Execution, bool]:
        """Create an execution (or return the existing one with this id) and make it ready.

        ``timeout`` (else the function's) ends it as TIMED_OUT that long after its start."""
        durable = self.registry.get(function)
        execution_id = _check_id(execution_id) if execution_id is not None else str(uuid.uuid4())
        text = self.codec.encode(payload, f'the input of execution "{execution_id}"')
        _check_input(durable, text, self.codec)
        limit = durable.timeout if timeout is None else seconds(
            timeout, f'the timeout of execution "{execution_id}"')
        now = self.clock.now()
        # A worker in this process with a free slot takes the new execution at once, leased to it
        # in the creating commit: no claim round-trip.
        local = self.local
        dispatch = local if local is not None and local.reserve() else None
        new = NewExecution(
            id=execution_id, function=durable.name, input=text, now=now,
            timeout_at=None if limit is None else now + limit,
            lease_owner=dispatch.worker_id if dispatch else None,
            lease_seconds=dispatch.lease_seconds if dispatch else 0.0,
        )
        try:
            execution, created = self.store.create_execution(new)
        except BaseException:
            if dispatch:
                dispatch.unreserve()
            raise
        if created and dispatch:
            self._coming.add(execution.id)
            try:
                dispatch.submit(Claim(execution, execution.lease_token, []))
            except BaseException:
                self._coming.discard(execution.id)
                raise
        else:
            if dispatch:
                dispatch.unreserve()
            if created:
                self.notifier.publish()
        if not created and execution.function != durable.name:
            raise ExecutionConflict(
                f'Execution "{execution_id}" already exists for function "{execution.function}", '
                f'not "{durable.name}". Execution ids are idempotency keys: use a new id.',
                execution_id=execution_id,
            )
        return execution, created

    # --- invocations ---------------------------------------------------------------------------

    def claim(self, worker_id: str, limit: int, lease_seconds: float) -> list[Claim]:
        """Lease up to ``limit`` ready executions."""
        return self.store.claim(worker_id, self.clock.now(), lease_seconds, limit)

    def _prepare(
        self, claim: Claim
    ) -> tuple[Invocation, InvocationState, DurableFunction[Any, Any]]:
        try:
            durable = self.registry.get(claim.execution.function)
            invocation = Invocation(self.store, self.clock, claim, self.tree)
            self._live[claim.execution.id] = invocation
        finally:
            # After _live is set (is_running stays true in between), and even if this failed.
            self._coming.discard(claim.execution.id)
        options = Options(codec=self.codec, always_replay=self.settings.always_replay,
                          branch_threads=self.branch_threads, loop_shared=self._loop_shared)
        state = InvocationState(invocation, invocation.operations.values(), self.clock, options,
                                durable.name)
        return invocation, state, durable

    def invoke(self, claim: Claim) -> ExecutionStatus:
        """Run one invocation of a sync function in this thread, and commit its end."""
        invocation, state, durable = self._prepare(claim)
        ending = self._ending_at_claim(claim)
        if ending is not None:
            outcome = InvocationOutcome(ending)
        elif durable.runner is not None:
            outcome = durable.runner(invocation, claim.execution)
        else:
            outcome = run_sync(durable.fn, state, claim.execution.input, self._retry(durable))
        return self._finish(invocation, outcome)

    async def ainvoke(self, claim: Claim, io: Executor) -> ExecutionStatus:
        """Run one invocation of an async function on the running loop, and commit its end."""
        invocation, state, durable = self._prepare(claim)
        ending = self._ending_at_claim(claim)
        if ending is not None:
            outcome = InvocationOutcome(ending)
        else:
            outcome = await run_async(durable.fn, state, claim.execution.input,
                                      self._retry(durable), io)
        if not self._loop_shared():
            # Alone on the loop: nobody waits for it, so commit in this thread (no hand-off).
            return self._finish(invocation, outcome)
        status: ExecutionStatus | None = None
        try:
            status = await invocation.afinish(outcome)
            return status
        finally:
            self._ended(invocation, outcome, status)

    def schedule_async(self, claim: Claim, io: Executor,
                       loop: asyncio.AbstractEventLoop) -> Future[ExecutionStatus]:
        """Run ``ainvoke`` on ``loop``, which runs in another thread (the worker's)."""
        with self._async_lock:
            self._async_scheduled += 1
        future = asyncio.run_coroutine_threadsafe(self.ainvoke(claim, io), loop)
        future.add_done_callback(self._unschedule_async)
        return future

    def _unschedule_async(self, _: Future[ExecutionStatus]) -> None:
        with self._async_lock:
            self._async_scheduled -= 1

    def _loop_shared(self) -> bool:
        # An invocation that never has to wait runs to its end without yielding the loop, so
        # what shares the loop is what was scheduled on it, started or not. (Counting its tasks
        # with asyncio.all_tasks costs 25 us with 60 of them, once per step.)
        return self._async_scheduled > 1

    def _ending_at_claim(self, claim: Claim) -> Ending | None:
        # A cancelled or timed-out execution ends without running user code.
        if claim.execution.cancel_requested:
            return Ending.STOPPED
        if timed_out(claim.execution, self.clock.now()):
            return Ending.TIMED_OUT
        return None

    def is_async(self, claim: Claim) -> bool:
        """Whether the claimed execution's function is ``async def``."""
        return self.registry.get(claim.execution.function).is_async

    def _retry(self, durable: DurableFunction[Any, Any]) -> RetryPolicy:
        return durable.retry if durable.retry is not None else self.settings.default_retry

    def _finish(self, invocation: Invocation, outcome: InvocationOutcome) -> ExecutionStatus:
        status: ExecutionStatus | None = None
        try:
            status = invocation.finish(outcome)
            return status
        finally:
            self._ended(invocation, outcome, status)

    def _ended(self, invocation: Invocation, outcome: InvocationOutcome,
               status: ExecutionStatus | None) -> None:
        """After an invocation's final commit (``status`` is None when it failed)."""
        self._live.pop(invocation.execution_id, None)
        # Result waiters rely on this news while the execution runs here (see _ChangeWaiter),
        # so every end of an invocation wakes them, not only the last one.
        ready = status is not None and outcome.immediate and not status.finished
        self.notifier.publish(invocation.execution_id, work=ready)

    def close(self) -> None:
        """Let the branch threads go."""
        self.branch_threads.shutdown(wait=False)

    def give_back(self, claim: Claim, delay: float) -> None:
        """Release a claim without running it; the execution is ready again after ``delay``."""
        now = self.clock.now()
        self.store.commit(JournalWrite(execution_id=claim.execution.id,
                                       lease_token=claim.lease_token, now=now, release=True,
                                       ready_at=now + delay))

    def is_running(self, execution_id: str) -> bool:
        """Whether an invocation of the execution runs in this process now (and has not begun
        its final commit, which gives up the lease), or is about to (handed to the worker)."""
        invocation = self._live.get(execution_id)
        if invocation is not None:
            return not invocation.ending
        return execution_id in self._coming

    def leases_renewed(self, leases: dict[str, int], expires: float) -> None:
        """The worker renewed these leases (execution id: token) until ``expires``."""
        for execution_id, token in leases.items():
            invocation = self._live.get(execution_id)
            if invocation is not None and invocation.lease_token == token:
                invocation.lease_expires_at = expires

    def not_coming(self, execution_id: str) -> None:
        """The worker dropped an execution handed to it without running it (it stopped)."""
        self._coming.discard(execution_id)

    def hand_back(self, execution_ids: list[str]) -> None:
        """Ask running invocations to suspend at their next operation (worker shutdown)."""
        for execution_id in execution_ids:
            invocation = self._live.get(execution_id)
            if invocation is not None:
                invocation.handback = True

    # --- control -------------------------------------------------------------------------------

    def cancel(self, execution_id: str) -> Execution:
        """Stop the execution at its next operation (at once when nobody runs it)."""
        current = self.get(execution_id)
        if current.status.finished:
            raise ExecutionConflict(
                f'Execution "{execution_id}" already ended {current.status.value}; only running '
                "or waiting executions can be cancelled.",
                execution_id=execution_id, status=current.status,
            )
        execution = self.store.request_cancel(execution_id, self.clock.now())
        self.notifier.publish(execution_id)
        return execution

    def get(self, execution_id: str) -> Execution:
        """The execution, or UnknownExecution."""
        execution = self.store.get_execution(execution_id)
        if execution is None:
            raise UnknownExecution(
                f'No execution "{execution_id}". Check the id with `redwood list`.',
                execution_id=execution_id,
            )
        return execution

    def wait_finished(self, execution_id: str, timeout: float | None) -> Execution:
        """Block until the execution finishes (``timeout`` in real seconds, None: forever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        waiter = _ChangeWaiter(self.store, self._marker_poll,
                               partial(self.is_running, execution_id))
        self.notifier.subscribe(waiter.kick, execution_id)
        try:
            if self.is_running(execution_id):
                # Its end is announced here (subscribed above): no need to read it before.
                waiter.wait(deadline)
            while True:
                execution = self.get(execution_id)
                if execution.status.finished:
                    return execution
                if deadline is not None and time.monotonic() >= deadline:
                    raise ResultTimeout(
                        f'Execution "{execution_id}" is still {execution.status.value} after '
                        f"{timeout}s. Wait longer, or see why with `redwood show {execution_id}`.",
                        execution_id=execution_id, timeout=timeout,
                    )
                waiter.wait(deadline)
        finally:
            self.notifier.unsubscribe(waiter.kick, execution_id)


class _ChangeWaiter:
    """Sleeps until an in-process notification, or a commit by another process shows up in the
    store's change marker (checked every ``poll`` seconds), or the deadline.

    While an invocation in this process runs the execution, its end is announced in process
    (Engine._finish), so the marker is then only a safety net looked at every
    ``_SAFETY_POLL`` seconds: fifty waiters need not wake fifty times a second each."""

    _SAFETY_POLL = 1.0

    def __init__(self, store: Store, poll: float, running_here: Callable[[], bool]) -> None:
        self._store = store
        self._poll = poll
        self._running_here = running_here
        self._condition = threading.Condition()
        self._kicked = False
        # Read at the first look, not before: the caller reads the execution again after every
        # return from wait(), so a commit before that first look cannot go unseen.
        self._marker: int | None = None

    def kick(self) -> None:
        with self._condition:
            self._kicked = True
            self._condition.notify_all()

    def wait(self, deadline: float | None) -> None:
        while deadline is None or time.monotonic() < deadline:
            poll = max(self._poll, self._SAFETY_POLL) if self._running_here() else self._poll
            with self._condition:
                if not self._kicked:
                    left = poll if deadline is None else deadline - time.monotonic()
                    self._condition.wait(max(0.0, min(poll, left)))
                kicked, self._kicked = self._kicked, False
            if kicked:
                # News of this very execution: the marker stays as it was, so a commit by
                # another process meanwhile is still noticed at the next look.
                return
            marker = self._store.change_marker()
            if marker != self._marker:
                self._marker = marker
                return


def _check_input(durable: DurableFunction[Any, Any], text: str, codec: Codec) -> None:
    # An input the declared type cannot read would fail every invocation of the execution:
    # refuse it before anything is recorded. Code for another SDK reads its input its own way.
    if durable.runner is not None:
        return
    hints = parameter_hints(durable.fn)
    if len(hints) < 2:
        if text != "null":
            raise ValidationError(
                f'Durable function "{durable.name}" takes no input, but an input was given. '
                f"Start it without one, or add an input parameter: "
                f"`def {durable.name}(ctx, payload): ...`.",
                function=durable.name,
            )
        return
    if hints[1] is None:
        return
    try:
        codec.serde.decode(text, hints[1])
    except (TypeError, ValueError) as error:
        kind = getattr(hints[1], "__qualname__", repr(hints[1]))
        raise ValidationError(
            f'The input does not fit the declared input type {kind!r} of durable function '
            f'"{durable.name}": {error}. Pass a value that validates as {kind!r}.',
            function=durable.name, input_type=kind,
        ) from None


def _check_id(execution_id: str) -> str:
    if not isinstance(execution_id, str) or not execution_id or len(execution_id) > _MAX_ID_LENGTH \
            or not execution_id.isprintable() or any(c.isspace() for c in execution_id):
        raise ValidationError(
            f"Invalid execution id {execution_id!r}: it must be 1 to {_MAX_ID_LENGTH} printable "
            "characters without spaces, e.g. 'order-42'.",
            execution_id=execution_id,
        )
    return execution_id

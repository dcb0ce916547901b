"""Workers: claim ready executions under a lease, run them, renew, and hand them back."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import wait_until
from redwood import (
    App,
    AsyncDurableContext,
    DurableContext,
    ExecutionStatus,
    LeaseLost,
    ManualClock,
    OperationStatus,
    ValidationError,
    Worker,
)
from redwood.engine.engine import Engine
from redwood.model import Claim, Execution
from redwood.store.base import CommitResult, JournalWrite
from redwood.store.sqlite import SQLiteStore

pytestmark = pytest.mark.every_store


def _two_steps(app: App, runs: Counter[str], gate: threading.Event | None = None,
               entered: threading.Event | None = None) -> Any:
    def first(n: int) -> int:
        runs["first"] += 1
        if entered is not None:
            entered.set()
        if gate is not None:
            assert gate.wait(10), "the test never opened the gate"
        return n + 1

    def second(n: int) -> int:
        runs["second"] += 1
        return n * 2

    @app.function
    def two_steps(ctx: DurableContext, n: int) -> int:
        return ctx.step(second, ctx.step(first, n))

    return two_steps


def test_background_worker_runs_executions_started_before_and_while_it_runs(app: App) -> None:
    runs: Counter[str] = Counter()
    fn = _two_steps(app, runs)
    early = app.start(fn, 1, id="before")
    with app.run_worker():
        late = app.start(fn, 2, id="while")
        assert early.result(timeout=10) == 4
        assert late.result(timeout=10) == 6
    assert runs == {"first": 2, "second": 2}


def test_background_worker_resumes_a_wait_when_the_clock_passes_it(
    app: App, clock: ManualClock
) -> None:
    @app.function
    def nap(ctx: DurableContext) -> str:
        ctx.wait(120)
        return "rested"

    with app.run_worker() as worker:
        handle = app.start(nap, id="nap")
        wait_until(lambda: handle.get().lease_owner is None and bool(handle.operations()),
                   what="the execution to suspend in its wait")
        wait_until(lambda: worker.in_flight == 0, what="the invocation to end")
        clock.advance(120)
        assert handle.result(timeout=10) == "rested"


def test_worker_picks_up_executions_started_through_another_connection(
    open_app: Callable[..., App],
) -> None:
    runs: Counter[str] = Counter()
    client_side, worker_side = open_app(), open_app()
    _two_steps(worker_side, runs)
    _two_steps(client_side, Counter())
    with worker_side.run_worker(poll_interval=0.01):
        handle = client_side.start("two_steps", 5, id="remote")
        assert handle.result(timeout=10) == 12
    assert runs == {"first": 1, "second": 1}


def test_worker_runs_invocations_concurrently(app: App) -> None:
    together = threading.Barrier(4, timeout=10)

    def meet() -> str:
        together.wait()  # breaks (and fails the step) unless four bodies run at once
        return "met"

    @app.function
    def f(ctx: DurableContext) -> str:
        return ctx.step(meet)

    with app.run_worker(concurrency=4):
        handles = [app.start(f, id=f"meet-{i}") for i in range(4)]
        assert [h.result(timeout=15) for h in handles] == ["met"] * 4


def test_expired_lease_lets_another_worker_finish_the_execution(
    app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    handle = app.start(_two_steps(app, runs), 1, id="orphan")
    assert len(app.engine.claim("dead-worker", 1, 30.0)) == 1  # it claims, then "dies"
    assert handle.get().lease_owner == "dead-worker"
    rescuer = app.worker()
    assert rescuer.drain() == 0  # the lease still holds
    clock.advance(29.9)
    assert rescuer.drain() == 0
    clock.advance(0.1)
    assert rescuer.drain() == 1
    assert handle.result(timeout=5) == 4
    assert runs == {"first": 1, "second": 1}
    execution = handle.get()
    assert execution.invocations == 2 and execution.lease_owner is None


def test_a_worker_that_lost_its_lease_cannot_write(app: App, clock: ManualClock) -> None:
    runs: Counter[str] = Counter()
    handle = app.start(_two_steps(app, runs), 1, id="zombie")
    (stale,) = app.engine.claim("slow-worker", 1, 30.0)
    clock.advance(31)
    app.worker().drain()
    assert handle.result(timeout=5) == 4
    with pytest.raises(LeaseLost, match='"zombie"'):
        app.engine.invoke(stale)  # the old holder wakes up and tries to carry on
    assert handle.result(timeout=5) == 4
    assert [e.type for e in handle.history()].count("ExecutionSucceeded") == 1
    assert [op.result for op in handle.operations()] == ["2", "4"]


def test_a_worker_that_lost_its_lease_stops_even_when_the_code_catches_everything(
    app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()

    def body(i: int) -> int:
        runs[f"s{i}"] += 1
        return i

    @app.function
    def careless(ctx: DurableContext) -> str:
        for i in range(3):
            with contextlib.suppress(Exception):  # swallows everything, LeaseLost included
                ctx.step(body, i, name=f"s{i}")
        return "done"

    handle = app.start(careless, id="careless")
    (stale,) = app.engine.claim("slow-worker", 1, 30.0)
    clock.advance(30)
    app.worker().drain()
    assert runs == {"s0": 1, "s1": 1, "s2": 1}
    with pytest.raises(LeaseLost):
        app.engine.invoke(stale)
    # The stale invocation ran "s0" before it could know; once refused, it runs nothing more.
    assert runs == {"s0": 2, "s1": 1, "s2": 1}
    assert handle.result(timeout=5) == "done"


def test_two_workers_never_run_the_same_execution(open_app: Callable[..., App]) -> None:
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def body(n: int) -> int:
        with lock:
            runs[str(n)] += 1
        return n

    def register(app: App) -> Any:
        @app.function
        def once(ctx: DurableContext, n: int) -> int:
            return ctx.step(body, n) + ctx.step(body, n, name="again")

        return once

    one, two = open_app(), open_app()
    register(one)
    fn = register(two)
    handles = [two.start(fn, n, id=f"n-{n}") for n in range(40)]
    with one.run_worker(concurrency=4, poll_interval=0.01), \
            two.run_worker(concurrency=4, poll_interval=0.01):
        assert [h.result(timeout=20) for h in handles] == [2 * n for n in range(40)]
    assert all(h.get().invocations == 1 for h in handles)
    assert runs == {str(n): 2 for n in range(40)}


def test_stop_hands_a_running_execution_back_at_its_next_step(app: App) -> None:
    runs: Counter[str] = Counter()
    gate, entered = threading.Event(), threading.Event()
    fn = _two_steps(app, runs, gate, entered)
    worker = app.worker().start()
    app.engine.local = worker
    handle = app.start(fn, 1, id="handed-back")
    assert entered.wait(10)
    worker.stop(grace=0)  # asks the invocation to hand the execution back
    gate.set()
    wait_until(lambda: handle.get().lease_owner is None, what="the execution to be handed back")
    execution = handle.get()
    assert execution.status is ExecutionStatus.RUNNING
    assert runs == {"first": 1}  # the second body did not run on the stopping worker
    (first,) = handle.operations()
    assert (first.status, first.result) == (OperationStatus.SUCCEEDED, "2")
    assert app.worker().drain() == 1
    assert handle.result(timeout=5) == 4
    assert runs == {"first": 1, "second": 1}


def test_worker_keeps_the_lease_of_a_step_that_runs_longer_than_the_lease(
    app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    gate, entered = threading.Event(), threading.Event()
    fn = _two_steps(app, runs, gate, entered)
    with app.run_worker(lease_seconds=30):
        handle = app.start(fn, 1, id="long-step")
        assert entered.wait(10)
        for _ in range(3):  # 60 seconds in all: twice the lease
            clock.advance(20)
            wait_until(lambda: handle.get().lease_expires_at == clock.now() + 30, timeout=5,
                       what="the worker to renew its lease")
        gate.set()
        assert handle.result(timeout=10) == 4
    assert runs == {"first": 1, "second": 1}  # never claimed again while it ran
    assert handle.get().invocations == 1


def test_worker_concurrency_must_be_positive(app: App) -> None:
    with pytest.raises(ValidationError, match="concurrency"):
        app.worker(concurrency=0)


def test_drain_runs_nothing_when_nothing_is_ready(app: App) -> None:
    assert app.worker().drain() == 0


def test_a_worker_gives_back_an_execution_of_a_function_it_does_not_know(
    open_app: Callable[..., App], clock: ManualClock
) -> None:
    knows = open_app()
    stranger = open_app()  # the same database, an app without the function

    @knows.function
    def greet(ctx: DurableContext, name: str) -> str:
        return ctx.step(lambda: f"hello {name}", name="greet")

    handle = knows.start(greet, "ada", id="greet-1")
    with stranger.run_worker(concurrency=1) as worker:
        wait_until(lambda: handle.get().lease_owner is None
                   and (handle.get().ready_at or 0) > clock.now(),
                   what="the stranger to give the execution back")
        assert worker.in_flight == 0  # its only slot is free again
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(Worker.UNKNOWN_FUNCTION_RETRY)
    knows.worker().drain()
    assert handle.result(timeout=5) == "hello ada"


class _WatchingStore(SQLiteStore):
    """The real SQLite store, noting what the engine says of an execution as its invocation's
    final commit (release or ending) is sent."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.engine: Engine | None = None
        self.running_at_final_commit: list[bool] = []

    def commit(self, write: JournalWrite) -> CommitResult:
        if (write.outcome is not None or write.release) and self.engine is not None:
            self.running_at_final_commit.append(self.engine.is_running(write.execution_id))
        return super().commit(write)


@pytest.mark.sqlite_only
def test_an_invocation_stops_counting_as_running_when_its_final_commit_begins(
    tmp_path: Path, clock: ManualClock,
) -> None:
    # A lease renewal that finds the lease gone warns only while the invocation still runs:
    # once its final commit (which gives the lease up) has begun, that commit is the reason.
    store = _WatchingStore(tmp_path / "watched.db")
    with App(store=store, clock=clock) as watched:
        store.engine = watched.engine
        seen_in_step: list[bool] = []

        def probe(execution_id: str) -> bool:
            seen_in_step.append(watched.engine.is_running(execution_id))
            return seen_in_step[-1]

        @watched.function
        def napper(ctx: DurableContext) -> str:
            ctx.step(probe, ctx.execution_id)
            ctx.wait(5)
            return "done"

        handle = watched.start(napper)
        worker = watched.worker()
        worker.drain()
        clock.advance(5)
        worker.drain()
        assert handle.result(timeout=5) == "done"
        assert seen_in_step == [True]
        assert store.running_at_final_commit == [False, False]  # the release, the ending


class _SlowReturnStore(SQLiteStore):
    """The real SQLite store, whose first checkpoint commit returns ``delay`` seconds (on the
    manual clock) after it committed, as when the database restarts under the reply."""

    def __init__(self, path: Path, clock: ManualClock, delay: float) -> None:
        super().__init__(path)
        self.clock = clock
        self.delay: float | None = delay

    def commit(self, write: JournalWrite) -> CommitResult:
        result = super().commit(write)
        if self.delay is not None and write.operations and write.outcome is None:
            self.clock.advance(self.delay)
            self.delay = None
        return result


@pytest.mark.sqlite_only
def test_a_checkpoint_that_returns_after_the_lease_expired_stops_the_invocation(
    tmp_path: Path, clock: ManualClock,
) -> None:
    # The store fenced the write when it was made, but it came back after the lease expired:
    # from then on another worker may claim the execution and run the next step. The old holder
    # must not run it too.
    store = _SlowReturnStore(tmp_path / "slow.db", clock, delay=45)
    with App(store=store, clock=clock) as app:
        runs: Counter[str] = Counter()

        @app.function
        def two(ctx: DurableContext) -> int:
            first = ctx.step(lambda: runs.update(["first"]) or 1, name="first")
            return first + ctx.step(lambda: runs.update(["second"]) or 1, name="second")

        handle = app.start(two)
        with pytest.raises(LeaseLost, match="its lease expired at"):
            app.worker(lease_seconds=30).drain()
        assert runs == {"first": 1}  # the second step did not run under the expired lease
        assert [op.name for op in handle.operations()] == ["first"]  # what was recorded stays
        app.worker(lease_seconds=30).drain()  # its next holder
        assert handle.result(timeout=5) == 2
        assert runs == {"first": 1, "second": 1}


@pytest.mark.sqlite_only
def test_an_invocation_longer_than_its_lease_goes_on_while_the_worker_renews_it(
    db_path: Path, clock: ManualClock,
) -> None:
    # The counterpart of the test above: renewals move the invocation's lease on, so a step
    # that outlasts the first lease (but not the renewed ones) is not stopped.
    with App(db_path, clock=clock) as app:
        def expiry(execution_id: str) -> float:
            execution = app.store.get_execution(execution_id)
            assert execution is not None and execution.lease_expires_at is not None
            return execution.lease_expires_at

        def long_body(execution_id: str) -> str:
            for _ in range(2):  # 40 s in all, past the first lease of 30 s
                before = expiry(execution_id)
                clock.advance(20)
                wait_until(lambda before=before: expiry(execution_id) > before,
                           what="the lease renewed")
            return "done"

        @app.function
        def long(ctx: DurableContext) -> str:
            ctx.step(long_body, ctx.execution_id, name="long")
            return ctx.step(lambda: "after", name="after")

        with app.run_worker(lease_seconds=30):
            handle = app.start(long)
            assert handle.result(timeout=30) == "after"
        assert [op.name for op in handle.operations()] == ["long", "after"]


class _CountingStore(SQLiteStore):
    """The real SQLite store, counting the reads of single executions."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads = 0

    def get_execution(self, execution_id: str) -> Execution | None:
        self.reads += 1
        return super().get_execution(execution_id)


@pytest.mark.sqlite_only
def test_an_execution_handed_to_the_embedded_worker_counts_as_running_before_it_begins(
    tmp_path: Path,
) -> None:
    # A result waiter asking right after the start must not read the execution while it has
    # yet to run: its end is announced in this process, so one read (after it) is enough.
    store = _CountingStore(tmp_path / "counted.db")
    with App(store=store) as app:
        @app.function
        def greet(ctx: DurableContext, name: str) -> str:
            return ctx.step(lambda: f"hello {name}", name="greet")

        gate = threading.Event()
        original = app.engine.invoke

        def held(claim: Claim) -> ExecutionStatus:
            gate.wait(30)
            return original(claim)

        app.engine.invoke = held  # type: ignore[method-assign]
        with app.run_worker():
            handle = app.start(greet, "ada")
            try:
                assert app.engine.is_running(handle.id)  # handed over, its invocation not begun
                results: list[str] = []
                waiter = threading.Thread(
                    target=lambda: results.append(handle.result(timeout=30)))
                waiter.start()
            finally:
                gate.set()
            waiter.join(30)
            assert results == ["hello ada"]
            assert store.reads == 1  # after the end, not before it
            assert not app.engine.is_running(handle.id)


@pytest.mark.sqlite_only
def test_an_async_final_commit_held_up_does_not_stop_the_other_async_executions(
    db_path: Path, clock: ManualClock,
) -> None:
    # Async executions share one event loop: the final commit of one is awaited there, not
    # waited for, so the others keep running while it is held up (here by another connection
    # that holds the database's write lock).
    release_a, release_b = threading.Event(), threading.Event()
    b_started, b_progressed = threading.Event(), threading.Event()

    async def linger(started: threading.Event) -> int:
        started.set()
        await asyncio.to_thread(release_b.wait, 30)
        b_progressed.set()
        return 2

    with App(db_path, clock=clock) as app:
        @app.function
        async def quick(ctx: AsyncDurableContext) -> int:
            await asyncio.to_thread(release_a.wait, 30)  # not a step: no commit before the end
            return 1

        @app.function
        async def slow(ctx: AsyncDurableContext) -> int:
            return await ctx.step(linger, b_started)

        with app.run_worker():
            b = app.start(slow, id="b")
            assert b_started.wait(10)
            a = app.start(quick, id="a")
            wait_until(lambda: app.engine.is_running("a"), what="a to run")
            blocker = sqlite3.connect(db_path, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
            try:
                release_a.set()
                wait_until(lambda: not app.engine.is_running("a"),
                           what="a's final commit to begin")
                release_b.set()
                assert b_progressed.wait(10), "the loop was blocked by another final commit"
                assert a.status() is ExecutionStatus.RUNNING  # its commit is still held up
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            assert a.result(timeout=10) == 1
            assert b.result(timeout=10) == 2

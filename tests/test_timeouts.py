"""Execution timeouts (end to end from the start, across suspensions, flowing down the tree) and
async step timeouts (an attempt that runs too long fails and goes to the retry policy)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from redwood import (
    App,
    AsyncDurableContext,
    DurableContext,
    ExecutionFailed,
    ExecutionStatus,
    InvokeFailed,
    ManualClock,
    OperationStatus,
    RetryPolicy,
    StepFailed,
    StepTimedOut,
    ValidationError,
)

pytestmark = pytest.mark.every_store


def test_function_timeout_ends_a_waiting_execution_as_timed_out(
    app: App, clock: ManualClock
) -> None:
    @app.function(timeout=60)
    def slow(ctx: DurableContext) -> None:
        ctx.wait(3600)

    start = clock.now()
    handle = app.start(slow, id="slow")
    worker = app.worker()
    worker.drain()
    assert handle.get().timeout_at == start + 60
    assert handle.get().ready_at == start + 60  # the timeout, not the hour-long wait
    clock.advance(61)
    worker.drain()
    assert handle.status() is ExecutionStatus.TIMED_OUT
    with pytest.raises(ExecutionFailed) as failed:
        handle.result(timeout=5)
    assert failed.value.status is ExecutionStatus.TIMED_OUT
    assert failed.value.error_type == "redwood.errors.ExecutionTimedOut"
    assert [e.type for e in handle.history()][-2:] == ["InvocationCompleted", "ExecutionTimedOut"]
    [wait_op] = handle.operations()
    assert wait_op.status is OperationStatus.CANCELLED and wait_op.due_at is None


def test_start_timeout_overrides_the_function_timeout(app: App, clock: ManualClock) -> None:
    @app.function(timeout=3600)
    def job(ctx: DurableContext) -> None:
        ctx.wait(600)

    handle = app.start(job, id="j", timeout=30)
    assert handle.get().timeout_at == clock.now() + 30


def test_timeout_counts_from_the_start_across_suspensions(app: App, clock: ManualClock) -> None:
    @app.function(timeout=50)
    def two_waits(ctx: DurableContext) -> str:
        ctx.wait(30)
        ctx.wait(30)
        return "done"

    handle = app.start(two_waits, id="tw")
    worker = app.worker()
    worker.drain()
    clock.advance(31)
    worker.drain()
    assert handle.status() is ExecutionStatus.RUNNING  # in its second wait
    clock.advance(20)  # 51 s after the start, 20 s into the second wait
    worker.drain()
    assert handle.status() is ExecutionStatus.TIMED_OUT


def test_an_execution_past_its_timeout_ends_without_running_its_code(
    app: App, clock: ManualClock
) -> None:
    ran: Counter[str] = Counter()

    @app.function(timeout=10)
    def late(ctx: DurableContext) -> None:
        ran["body"] += 1

    handle = app.start(late, id="late")
    clock.advance(11)
    app.worker().drain()
    assert handle.status() is ExecutionStatus.TIMED_OUT
    assert ran["body"] == 0


def test_timeout_passing_during_an_invocation_stops_at_the_next_step(
    app: App, clock: ManualClock
) -> None:
    ran: list[str] = []

    def long_call() -> str:
        clock.advance(120)  # the step itself takes past the execution's deadline
        ran.append("long")
        return "long"

    @app.function(timeout=60)
    def flow(ctx: DurableContext) -> None:
        ctx.step(long_call)
        ctx.step(lambda: ran.append("next"), name="next")

    handle = app.start(flow, id="f")
    # A lease longer than the step: drain() runs the step inline, with no renewal meanwhile as a
    # running worker makes, and a write past the lease's expiry would be refused.
    app.worker(lease_seconds=600).drain()
    assert handle.status() is ExecutionStatus.TIMED_OUT
    assert ran == ["long"]
    statuses = {op.name: op.status for op in handle.operations()}
    assert statuses == {"long_call": OperationStatus.SUCCEEDED}  # what was done stays recorded


def test_child_timeout_reaches_the_parent_as_invoke_failed(app: App, clock: ManualClock) -> None:
    @app.function(timeout=30)
    def child(ctx: DurableContext) -> None:
        ctx.wait(3600)

    @app.function
    def parent(ctx: DurableContext) -> str:
        try:
            ctx.invoke(child)
        except InvokeFailed as error:
            return f"{error.status}: {error.error_type}"
        return "finished"

    handle = app.start(parent, id="p")
    worker = app.worker()
    worker.drain()
    clock.advance(31)
    worker.drain()
    assert handle.result(timeout=5) == "TIMED_OUT: redwood.errors.ExecutionTimedOut"
    assert [e.type for e in handle.history() if e.operation_id == "1"] == \
        ["ChainedInvokeStarted", "ChainedInvokeTimedOut"]


def test_parent_timeout_stops_its_running_child(app: App, clock: ManualClock) -> None:
    @app.function
    def child(ctx: DurableContext) -> None:
        ctx.wait(3600)

    @app.function(timeout=30)
    def parent(ctx: DurableContext) -> None:
        ctx.invoke(child)

    handle = app.start(parent, id="p")
    worker = app.worker()
    worker.drain()
    assert app.client.get("p:1").status is ExecutionStatus.RUNNING
    clock.advance(31)
    worker.drain()
    assert handle.status() is ExecutionStatus.TIMED_OUT
    child_execution = app.client.get("p:1")
    assert child_execution.status is ExecutionStatus.STOPPED
    assert child_execution.ready_at is None
    [child_wait] = app.client.operations("p:1")
    assert child_wait.status is OperationStatus.CANCELLED
    stopped = app.client.history("p:1")[-1]
    assert stopped.type == "ExecutionStopped"
    assert stopped.details["reason"] == 'its parent execution "p" ended TIMED_OUT'


def test_async_step_timeout_fails_the_attempt_and_the_retry_succeeds(
    app: App, clock: ManualClock
) -> None:
    attempts: Counter[str] = Counter()
    never = asyncio.Event()

    async def fetch() -> str:
        attempts["fetch"] += 1
        if attempts["fetch"] == 1:
            await never.wait()  # hangs: only the step timeout ends this attempt
        return "fetched"

    @app.function
    async def flow(ctx: AsyncDurableContext) -> str:
        return await ctx.step(fetch, timeout=0.05, retry=RetryPolicy.fixed(2, max_attempts=2))

    handle = app.start(flow, id="st")
    worker = app.worker()
    worker.drain()
    [failed] = [e for e in handle.history() if e.type == "StepFailed"]
    assert failed.details["error"]["type"] == "redwood.errors.StepTimedOut"
    clock.advance(3)
    worker.drain()
    assert handle.result(timeout=5) == "fetched"
    assert attempts["fetch"] == 2


def test_async_step_timeout_without_retries_fails_the_step(app: App) -> None:
    never = asyncio.Event()

    async def hang() -> None:
        await never.wait()

    @app.function
    async def flow(ctx: AsyncDurableContext) -> bool:
        try:
            await ctx.step(hang, timeout=0.02, retry=RetryPolicy.none())
        except StepFailed as error:
            return error.matches(StepTimedOut) and error.matches(TimeoutError)
        return False

    handle = app.start(flow, id="nt")
    app.worker().drain()
    assert handle.result(timeout=5) is True


def test_invalid_timeouts_are_validation_errors(app: App) -> None:
    with pytest.raises(ValidationError, match="the timeout of durable function \"f\""):
        app.function(name="f", timeout=-5)(lambda ctx: None)

    @app.function
    def ok(ctx: DurableContext) -> None:
        return None

    with pytest.raises(ValidationError, match='the timeout of execution "x" must be between'):
        app.start(ok, id="x", timeout=0)
    assert app.store.get_execution("x") is None

    @app.function
    async def bad_step(ctx: AsyncDurableContext) -> str:
        try:
            await ctx.step(lambda: 1, name="one", timeout=0)
        except ValidationError as error:
            return error.message
        return "accepted"

    handle = app.start(bad_step, id="bs")
    app.worker().drain()
    assert handle.result(timeout=5).startswith("ctx.step timeout must be between")

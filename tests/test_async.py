"""Async durable functions: async and sync step bodies, waits, retries and cancels, side by side
with sync functions on one background worker (threads for sync, one event loop for async)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import pytest

from conftest import wait_until
from redwood import (
    App,
    AsyncDurableContext,
    DurableContext,
    ExecutionHandle,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    RetryPolicy,
    StepFailed,
)

pytestmark = pytest.mark.every_store


def _suspended(handle: ExecutionHandle[Any]) -> bool:
    execution = handle.get()
    return execution.status is ExecutionStatus.RUNNING and execution.lease_owner is None


def test_async_function_runs_async_and_sync_step_bodies(any_app: App, clock: ManualClock) -> None:
    threads: dict[str, str] = {}

    async def fetch(n: int) -> int:
        await asyncio.sleep(0)  # a real await point inside the body
        threads["fetch"] = threading.current_thread().name
        return n * 10

    def compute(n: int) -> int:
        threads["compute"] = threading.current_thread().name
        return n + 1

    @any_app.function
    async def pipeline(ctx: AsyncDurableContext, n: int) -> list[int]:
        a = await ctx.step(fetch, n)
        await ctx.wait(5)
        b = await ctx.step(compute, a)
        return [a, b]

    handle = any_app.start(pipeline, 4, id="pipeline")
    worker = any_app.worker()
    worker.drain()
    clock.advance(5)
    worker.drain()
    assert handle.result(timeout=5) == [40, 41]
    # A sync body must not block the event loop that runs the async executions.
    assert threads["compute"] != threads["fetch"]


def test_async_step_retries_and_reports_failure_like_a_sync_one(
    any_app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()

    async def flaky() -> str:
        runs["flaky"] += 1
        raise ConnectionError(f"try {runs['flaky']}")

    @any_app.function
    async def f(ctx: AsyncDurableContext) -> str:
        try:
            return await ctx.step(flaky, retry=RetryPolicy.fixed(2.0, max_attempts=2))
        except StepFailed as error:
            return f"gave up after {error.attempts}: {error.error_message}"

    handle = any_app.start(f, id="async-retry")
    worker = any_app.worker()
    worker.drain()
    clock.advance(2)
    worker.drain()
    assert handle.result(timeout=5) == "gave up after 2: try 2"
    assert runs == {"flaky": 2}


def test_async_values_replay_identically(any_app: App, clock: ManualClock) -> None:
    seen: list[tuple[float, str]] = []

    @any_app.function
    async def f(ctx: AsyncDurableContext) -> None:
        seen.append((ctx.random(), str(ctx.uuid4())))
        await ctx.wait(1)

    any_app.start(f, id="async-values")
    worker = any_app.worker()
    worker.drain()
    clock.advance(1)
    worker.drain()
    assert len(seen) == 2 and seen[0] == seen[1]


def test_sync_and_async_functions_share_one_background_worker(
    app: App, clock: ManualClock
) -> None:
    def square(n: int) -> int:
        return n * n

    async def cube(n: int) -> int:
        return n * n * n

    @app.function
    def sync_fn(ctx: DurableContext, n: int) -> int:
        value = ctx.step(square, n)
        ctx.wait(10)
        return value + ctx.step(square, n)

    @app.function
    async def async_fn(ctx: AsyncDurableContext, n: int) -> int:
        value = await ctx.step(cube, n)
        await ctx.wait(10)
        return value + await ctx.step(square, n)

    with app.run_worker(concurrency=8):
        handles = [app.start(sync_fn, n, id=f"sync-{n}") for n in range(5)]
        handles += [app.start(async_fn, n, id=f"async-{n}") for n in range(5)]
        wait_until(lambda: all(_suspended(h) for h in handles), what="every execution waiting")
        clock.advance(10)
        results = [h.result(timeout=10) for h in handles]
    assert results == [2 * n * n for n in range(5)] + [n**3 + n * n for n in range(5)]


def test_cancel_stops_a_running_async_execution_before_its_next_step(app: App) -> None:
    entered = threading.Event()
    release = threading.Event()
    runs: Counter[str] = Counter()

    def slow() -> str:
        runs["slow"] += 1
        entered.set()
        release.wait(10)
        return "slow"

    async def after() -> str:
        runs["after"] += 1
        return "after"

    @app.function
    async def f(ctx: AsyncDurableContext) -> str:
        await ctx.step(slow)
        return await ctx.step(after)

    with app.run_worker():
        handle = app.start(f, id="async-cancel")
        assert entered.wait(10)
        handle.cancel()
        release.set()
        wait_until(lambda: handle.status().finished, what="the execution to stop")
    assert handle.status() is ExecutionStatus.STOPPED
    assert runs == {"slow": 1}
    assert handle.operations()[0].status is OperationStatus.SUCCEEDED

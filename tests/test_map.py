"""ctx.map: concurrency limits, fail-fast, completion policies, partial replay, and a SIGKILL in
the middle of a map over 100 items."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import crash_map_app
from redwood import (
    App,
    AsyncDurableContext,
    DurableContext,
    ExecutionFailed,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    OperationType,
    RetryPolicy,
)
from redwood.store.sqlite import SQLiteStore

pytestmark = pytest.mark.every_store


def _statuses(result: Any) -> str:
    return "".join(item.status.value[0] for item in result.items)


def test_map_returns_results_in_index_order(app: App) -> None:
    @app.function
    def squares(ctx: DurableContext, count: int) -> list[int | None]:
        return ctx.map(range(count), lambda c, n: c.step(lambda: n * n, name="square")).results()

    handle = app.start(squares, 20, id="sq")
    app.worker().drain()
    assert handle.result(timeout=5) == [n * n for n in range(20)]
    iterations = [op for op in handle.operations() if op.subtype == "MapIteration"]
    assert sorted(op.id for op in iterations) == sorted(f"1-{n}" for n in range(1, 21))
    assert {op.parent_id for op in iterations} == {"1"}


def test_map_runs_up_to_max_concurrency_items_at_once(app: App) -> None:
    limit = 3
    # Three items must be inside the barrier together, so at least three run at once...
    barrier = threading.Barrier(limit, timeout=10)
    lock = threading.Lock()
    running = 0
    peak = 0

    def work(n: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        barrier.wait()
        with lock:
            running -= 1
        return n

    @app.function
    def flow(ctx: DurableContext) -> list[int | None]:
        return ctx.map(range(9), lambda c, n: c.step(work, n), max_concurrency=limit).results()

    handle = app.start(flow, id="mc")
    app.worker().drain()
    assert handle.result(timeout=5) == list(range(9))
    assert peak == limit  # ...and never more than three


def test_map_is_fail_fast_by_default(app: App) -> None:
    ran: list[int] = []

    def work(n: int) -> int:
        ran.append(n)
        if n == 2:
            raise ValueError(f"item {n} is broken")
        return n

    @app.function
    def flow(ctx: DurableContext) -> dict[str, Any]:
        result = ctx.map(range(6), lambda c, n: c.step(work, n, retry=RetryPolicy.none()),
                         max_concurrency=1)
        return {"reason": result.completion_reason.value, "statuses": _statuses(result),
                "error": result.errors()[0].message}

    handle = app.start(flow, id="ff")
    app.worker().drain()
    outcome = handle.result(timeout=5)
    assert outcome["reason"] == "FAILURE_TOLERANCE_EXCEEDED"
    assert outcome["statuses"] == "SSFNNN"
    assert "item 2 is broken" in outcome["error"] and "Map iteration" in outcome["error"]
    assert ran == [0, 1, 2]
    ids = {op.id for op in handle.operations() if op.subtype == "MapIteration"}
    assert ids == {"1-1", "1-2", "1-3"}  # items never started are absent from the journal


def test_tolerated_failure_percentage_lets_the_map_finish(app: App) -> None:
    @app.function
    def flow(ctx: DurableContext) -> dict[str, Any]:
        def item(c: DurableContext, n: int) -> int:
            if n % 5 == 0:
                raise ValueError("every fifth fails")
            return n
        result = ctx.map(range(10), item, tolerated_failure_percentage=20)
        return {"reason": result.completion_reason.value, "values": result.get_results(),
                "failed": [item.index for item in result.failed()]}

    handle = app.start(flow, id="pct")
    app.worker().drain()
    assert handle.result(timeout=5) == {"reason": "ALL_COMPLETED",
                                        "values": [1, 2, 3, 4, 6, 7, 8, 9], "failed": [0, 5]}


def test_min_successful_stops_starting_items(app: App) -> None:
    @app.function
    def flow(ctx: DurableContext) -> tuple[str, str]:
        result = ctx.map(range(10), lambda c, n: n, min_successful=4, max_concurrency=2)
        return result.completion_reason.value, _statuses(result)

    handle = app.start(flow, id="min")
    app.worker().drain()
    reason, statuses = handle.result(timeout=5)
    assert reason == "MIN_SUCCESSFUL_REACHED"
    assert statuses.count("S") >= 4 and statuses.endswith("NNNN")


def test_replay_of_a_partly_done_map_reruns_only_unfinished_items(
    app: App, clock: ManualClock
) -> None:
    runs: Counter[int] = Counter()

    def work(n: int) -> int:
        runs[n] += 1
        return n * 10

    @app.function
    def flow(ctx: DurableContext) -> list[int | None]:
        def item(c: DurableContext, n: int) -> int:
            if n % 2:
                c.wait(30)  # odd items wait; even ones finish in the first invocation
            return c.step(work, n)
        return ctx.map(range(8), item).results()

    handle = app.start(flow, id="partial")
    worker = app.worker()
    worker.drain()
    done = {op.id for op in handle.operations()
            if op.subtype == "MapIteration" and op.status is OperationStatus.SUCCEEDED}
    assert done == {"1-1", "1-3", "1-5", "1-7"}
    assert runs == Counter({0: 1, 2: 1, 4: 1, 6: 1})
    clock.advance(31)
    worker.drain()
    assert handle.result(timeout=5) == [n * 10 for n in range(8)]
    assert runs == Counter({n: 1 for n in range(8)})


def test_an_item_in_retry_back_off_suspends_only_itself(app: App, clock: ManualClock) -> None:
    attempts: Counter[int] = Counter()

    def flaky(n: int) -> int:
        attempts[n] += 1
        if n == 1 and attempts[n] == 1:
            raise ConnectionError("blip")
        return n

    @app.function
    def flow(ctx: DurableContext) -> list[int | None]:
        retry = RetryPolicy.fixed(5, max_attempts=2)
        return ctx.map(range(3), lambda c, n: c.step(flaky, n, retry=retry)).results()

    handle = app.start(flow, id="retry")
    worker = app.worker()
    worker.drain()
    assert attempts == Counter({0: 1, 1: 1, 2: 1})
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(6)
    worker.drain()
    assert handle.result(timeout=5) == [0, 1, 2]
    assert attempts == Counter({0: 1, 1: 2, 2: 1})


def test_nested_maps_and_an_empty_map(app: App) -> None:
    @app.function
    def flow(ctx: DurableContext) -> Any:
        grid = ctx.map([[1, 2], [3], []],
                       lambda c, row: c.map(row, lambda d, x: x * 2).get_results())
        empty = ctx.map([], lambda c, x: x)
        return grid.results(), empty.completion_reason.value, empty.results()

    handle = app.start(flow, id="nest")
    app.worker().drain()
    assert handle.result(timeout=5) == [[[2, 4], [6], []], "ALL_COMPLETED", []]
    subtypes = {op.id: op.subtype for op in handle.operations()}
    assert subtypes["1-1-1"] == "Map" and subtypes["1-1-1-2"] == "MapIteration"


def test_completed_map_replays_its_result_without_running_items(
    app: App, clock: ManualClock
) -> None:
    runs: Counter[int] = Counter()
    seen: list[Any] = []

    @app.function
    def flow(ctx: DurableContext) -> None:
        def item(c: DurableContext, n: int) -> int:
            runs[n] += 1
            if n == 3:
                raise LookupError("missing")
            return n
        result = ctx.map(range(5), item, tolerated_failure_count=2)
        seen.append((result.results(), [e.message for e in result.errors()],
                     result.completion_reason))
        ctx.wait(5)

    handle = app.start(flow, id="rep")
    worker = app.worker()
    worker.drain()
    clock.advance(6)
    worker.drain()
    assert handle.status() is ExecutionStatus.SUCCEEDED
    assert runs == Counter({n: 1 for n in range(5)})
    assert len(seen) == 2 and seen[0] == seen[1]
    assert seen[0][0] == [0, 1, 2, None, 4]
    map_op = next(op for op in handle.operations() if op.id == "1")
    assert map_op.result == '{"completion_reason":"ALL_COMPLETED","statuses":"SSSFS"}'


def test_changing_the_number_of_items_is_a_non_determinism_error(
    app: App, clock: ManualClock
) -> None:
    items = [1, 2, 3]

    @app.function
    def flow(ctx: DurableContext) -> None:
        ctx.map(list(items), lambda c, n: n)
        ctx.wait(5)

    handle = app.start(flow, id="nd")
    worker = app.worker()
    worker.drain()
    items.append(4)
    clock.advance(6)
    worker.drain()
    try:
        handle.result(timeout=5)
    except ExecutionFailed as error:
        assert error.error_type == "redwood.errors.NonDeterminism"
        assert "over 3 branches, but the code now passes 4" in error.message
    else:
        raise AssertionError("the execution should have failed")


def test_async_map_runs_items_as_tasks(app: App, clock: ManualClock) -> None:
    @app.function
    async def flow(ctx: AsyncDurableContext) -> list[int | None]:
        async def item(c: AsyncDurableContext, n: int) -> int:
            if n == 0:
                await c.wait(10)

            async def triple() -> int:
                return n * 3
            return await c.step(triple)
        result = await ctx.map(range(4), item, max_concurrency=2)
        return result.results()

    handle = app.start(flow, id="am")
    worker = app.worker()
    worker.drain()
    # Item 0 holds one of the two slots while it waits; the other slot served items 1..3.
    done = sorted(op.id for op in handle.operations()
                  if op.subtype == "MapIteration" and op.status is OperationStatus.SUCCEEDED)
    assert done == ["1-2", "1-3", "1-4"]
    clock.advance(11)
    worker.drain()
    assert handle.result(timeout=5) == [0, 3, 6, 9]


def test_worker_killed_mid_map_resumes_without_rerunning_completed_items(tmp_path: Path) -> None:
    database, runs = tmp_path / "crash.db", tmp_path / "runs.txt"
    script = Path(crash_map_app.__file__)
    # Killed in the body of item 50: a fault point at the n-th commit would fall wherever the
    # items happen to be then (all of them, on a fast day, were recorded in four commits).
    env = {**os.environ, crash_map_app.KILL_AT: "50"}
    process = subprocess.run([sys.executable, str(script), str(database), str(runs), "100"],
                             env=env, timeout=120, capture_output=True)
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()

    store = SQLiteStore(database)
    recorded = {op.id for op in store.operations("fan-out")
                if op.type is OperationType.STEP and op.status is OperationStatus.SUCCEEDED}
    store.close()
    runs_at_kill = Counter(int(line) for line in runs.read_text().split())
    assert 0 < len(recorded) < 100  # killed in the middle

    # The dead worker's lease is far in the past for this clock: the execution is claimable.
    app, _ = crash_map_app.build(str(database), ManualClock(time.time() + 3600))
    try:
        app.worker().drain()
        assert app.client.result("fan-out", timeout=5) == [n * n for n in range(100)]
    finally:
        app.close()
    runs_after = Counter(int(line) for line in runs.read_text().split())
    for n in range(100):
        if f"1-{n + 1}-1" in recorded:
            assert runs_after[n] == runs_at_kill[n] == 1, n  # completed: never run again
        else:
            assert runs_after[n] == runs_at_kill[n] + 1, n  # unfinished: run once more


def test_timeout_stops_a_map_whose_items_wait(app: App, clock: ManualClock) -> None:
    @app.function(timeout=100)
    def flow(ctx: DurableContext) -> None:
        ctx.map(range(4), lambda c, n: c.wait(50 * (n + 1)), max_concurrency=2)

    handle = app.start(flow, id="t")
    worker = app.worker()
    worker.drain()
    clock.advance(51)
    worker.drain()  # item 0 done, item 2 started in its slot
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(50)
    worker.drain()
    assert handle.status() is ExecutionStatus.TIMED_OUT
    iterations = {op.id: op.status for op in handle.operations() if op.subtype == "MapIteration"}
    # Item 1's wait ended at the deadline too, but a timed-out execution runs no more code.
    assert iterations == {"1-1": OperationStatus.SUCCEEDED, "1-2": OperationStatus.CANCELLED,
                          "1-3": OperationStatus.CANCELLED}


def test_map_under_always_replay_runs_every_step_once(open_app: Callable[..., App]) -> None:
    app = open_app(always_replay=True)
    runs: Counter[str] = Counter()

    def work(label: str) -> str:
        runs[label] += 1
        return label

    @app.function
    def flow(ctx: DurableContext) -> list[str | None]:
        def item(c: DurableContext, n: int) -> str:
            return c.step(work, f"{n}a") + c.step(work, f"{n}b")
        return ctx.map(range(5), item, max_concurrency=2).results()

    handle = app.start(flow, id="ar")
    app.worker().drain()
    assert handle.result(timeout=5) == [f"{n}a{n}b" for n in range(5)]
    assert runs == Counter({f"{n}{part}": 1 for n in range(5) for part in "ab"})
    assert handle.get().invocations > 5

"""ctx.parallel: concurrent branches, completion policies, suspension, replay and cancellation."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import pytest

from redwood import (
    App,
    AsyncDurableContext,
    BatchResult,
    ChildContextFailed,
    DurableContext,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    RetryPolicy,
    ValidationError,
)

pytestmark = pytest.mark.every_store


def _fail(message: str) -> None:
    raise ValueError(message)


def _summary(result: BatchResult[Any]) -> dict[str, Any]:
    return {"reason": result.completion_reason.value,
            "statuses": [item.status.value for item in result.items],
            "results": result.results()}


def test_parallel_branches_run_concurrently_and_return_in_index_order(app: App) -> None:
    # Each branch waits at the barrier for the other: run one after the other, it would break.
    barrier = threading.Barrier(2, timeout=10)

    def meet(value: str) -> str:
        barrier.wait()
        return value

    @app.function
    def both(ctx: DurableContext) -> dict[str, Any]:
        result = ctx.parallel([lambda c: c.step(meet, "left"), lambda c: c.step(meet, "right")],
                              name="pair")
        return _summary(result)

    handle = app.start(both, id="pair")
    app.worker().drain()
    assert handle.result(timeout=5) == {"reason": "ALL_COMPLETED",
                                        "statuses": ["SUCCEEDED", "SUCCEEDED"],
                                        "results": ["left", "right"]}
    ops = {op.id: (op.subtype, op.status.value) for op in handle.operations()}
    assert ops["1"] == ("Parallel", "SUCCEEDED")
    assert ops["1-1"] == ("ParallelBranch", "SUCCEEDED")
    assert ops["1-2"] == ("ParallelBranch", "SUCCEEDED")


def test_parallel_requires_every_branch_to_succeed_by_default(app: App) -> None:
    @app.function
    def flow(ctx: DurableContext) -> dict[str, Any]:
        def bad(c: DurableContext) -> None:
            c.step(_fail, "card declined", retry=RetryPolicy.none())
        result = ctx.parallel([lambda c: "ok", bad], max_concurrency=1)
        try:
            result.throw_if_error()
        except ChildContextFailed as error:
            return {**_summary(result), "error": error.error_type, "errors": len(result.errors())}
        return _summary(result)

    handle = app.start(flow, id="f")
    app.worker().drain()
    assert handle.result(timeout=5) == {
        "reason": "FAILURE_TOLERANCE_EXCEEDED", "statuses": ["SUCCEEDED", "FAILED"],
        "results": ["ok", None], "error": "redwood.errors.StepFailed", "errors": 1,
    }


def test_tolerated_failures_let_the_parallel_complete(app: App) -> None:
    @app.function
    def flow(ctx: DurableContext) -> dict[str, Any]:
        result = ctx.parallel(
            [lambda c: 1, lambda c: _fail("one"), lambda c: 3], tolerated_failure_count=1,
        )
        assert result.has_failure and result.failure_count == 1
        return {**_summary(result), "values": result.get_results()}

    handle = app.start(flow, id="t")
    app.worker().drain()
    assert handle.result(timeout=5) == {
        "reason": "ALL_COMPLETED", "statuses": ["SUCCEEDED", "FAILED", "SUCCEEDED"],
        "results": [1, None, 3], "values": [1, 3],
    }


def test_min_successful_completes_early_and_reports_branches_never_started(app: App) -> None:
    ran: Counter[str] = Counter()

    def branch(label: str):  # type: ignore[no-untyped-def]
        def run(c: DurableContext) -> str:
            ran[label] += 1
            return c.step(lambda: label, name=label)
        return run

    @app.function
    def flow(ctx: DurableContext) -> dict[str, Any]:
        result = ctx.parallel([branch("a"), branch("b"), branch("c")], min_successful=1,
                              max_concurrency=1)
        return _summary(result)

    handle = app.start(flow, id="m")
    app.worker().drain()
    assert handle.result(timeout=5) == {
        "reason": "MIN_SUCCESSFUL_REACHED",
        "statuses": ["SUCCEEDED", "NOT_STARTED", "NOT_STARTED"], "results": ["a", None, None],
    }
    assert ran == Counter({"a": 1})
    assert {op.id for op in handle.operations()} == {"1", "1-1", "1-1-1"}


def test_a_waiting_branch_suspends_only_itself(app: App, clock: ManualClock) -> None:
    ran: Counter[str] = Counter()

    def slow(c: DurableContext) -> str:
        c.wait(60)
        return "slow"

    def fast(c: DurableContext) -> str:
        ran["fast"] += 1
        return c.step(lambda: "fast", name="fast")

    @app.function
    def flow(ctx: DurableContext) -> list[str | None]:
        return ctx.parallel([slow, fast]).results()

    handle = app.start(flow, id="s")
    worker = app.worker()
    worker.drain()
    statuses = {op.id: op.status for op in handle.operations()}
    # The fast branch finished while the slow one waited; the invocation then suspended.
    assert statuses["1-2"] is OperationStatus.SUCCEEDED
    assert statuses["1-1"] is OperationStatus.STARTED
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(61)
    worker.drain()
    assert handle.result(timeout=5) == ["slow", "fast"]
    assert ran["fast"] == 1


def test_completed_parallel_replays_its_recorded_result(app: App, clock: ManualClock) -> None:
    ran: Counter[str] = Counter()
    seen: list[dict[str, Any]] = []

    def counted(label: str):  # type: ignore[no-untyped-def]
        def run(c: DurableContext) -> str:
            ran[label] += 1
            if label == "bad":
                raise ValueError("nope")
            return label
        return run

    @app.function
    def flow(ctx: DurableContext) -> None:
        result = ctx.parallel([counted("good"), counted("bad")], tolerated_failure_count=1)
        seen.append({**_summary(result), "error": result.errors()[0].message})
        ctx.wait(5)

    handle = app.start(flow, id="r")
    worker = app.worker()
    worker.drain()
    clock.advance(6)
    worker.drain()
    assert handle.status() is ExecutionStatus.SUCCEEDED
    assert ran == Counter({"good": 1, "bad": 1})
    assert len(seen) == 2 and seen[0] == seen[1]
    assert 'Parallel branch "run" (operation #1-2)' in seen[0]["error"]


def test_nested_parallel_runs_inside_a_branch(app: App) -> None:
    @app.function
    def flow(ctx: DurableContext) -> list[Any]:
        def inner(c: DurableContext) -> list[int | None]:
            return c.parallel([lambda d: 1, lambda d: d.step(lambda: 2, name="two")]).results()
        return ctx.parallel([inner, lambda c: "flat"]).results()

    handle = app.start(flow, id="n")
    app.worker().drain()
    assert handle.result(timeout=5) == [[1, 2], "flat"]
    ops = {op.id: op.subtype for op in handle.operations()}
    assert ops["1-1-1"] == "Parallel" and ops["1-1-1-2"] == "ParallelBranch"
    assert ops["1-1-1-2-1"] is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "4"])
def test_invalid_max_concurrency_is_a_validation_error(app: App, bad: Any) -> None:
    @app.function
    def flow(ctx: DurableContext) -> str:
        try:
            ctx.parallel([lambda c: 1], max_concurrency=bad)
        except ValidationError as error:
            return error.message
        return "accepted"

    handle = app.start(flow, id="v")
    app.worker().drain()
    message = handle.result(timeout=5)
    assert message.startswith("Invalid max_concurrency for ctx.parallel")
    assert "integer >= 1 or None" in message
    assert handle.operations() == []  # nothing was recorded


def test_invalid_completion_policy_is_a_validation_error(app: App) -> None:
    @app.function
    def flow(ctx: DurableContext) -> str:
        try:
            ctx.parallel([lambda c: 1], tolerated_failure_percentage=150, min_successful=0)
        except ValidationError as error:
            return error.message
        return "accepted"

    handle = app.start(flow, id="v")
    app.worker().drain()
    message = handle.result(timeout=5)
    assert "min_successful must be an integer >= 1" in message
    assert "tolerated_failure_percentage must be between 0 and 100" in message


def test_cancelling_a_parallel_with_a_waiting_branch_cancels_its_timer(app: App) -> None:
    @app.function
    def flow(ctx: DurableContext) -> None:
        ctx.parallel([lambda c: c.wait(3600), lambda c: "done"])

    handle = app.start(flow, id="c")
    app.worker().drain()
    handle.cancel()
    assert handle.status() is ExecutionStatus.STOPPED
    statuses = {op.id: op.status for op in handle.operations()}
    assert statuses == {"1": OperationStatus.CANCELLED, "1-1": OperationStatus.CANCELLED,
                        "1-1-1": OperationStatus.CANCELLED, "1-2": OperationStatus.SUCCEEDED}


def test_fail_fast_cancels_a_branch_that_was_waiting(app: App, clock: ManualClock) -> None:
    @app.function
    def flow(ctx: DurableContext) -> list[str]:
        def waits(c: DurableContext) -> None:
            c.wait(3600)

        def fails(c: DurableContext) -> None:
            c.wait(10)
            raise ValueError("late failure")
        result = ctx.parallel([waits, fails])
        return [item.status.value for item in result.items]

    handle = app.start(flow, id="ff")
    worker = app.worker()
    worker.drain()
    clock.advance(11)
    worker.drain()
    assert handle.result(timeout=5) == ["CANCELLED", "FAILED"]
    statuses = {op.id: op.status for op in handle.operations()}
    assert statuses["1-1"] is OperationStatus.CANCELLED
    assert statuses["1-1-1"] is OperationStatus.CANCELLED  # its timer will never fire
    assert [e.type for e in handle.history() if e.operation_id == "1-1-1"] == \
        ["WaitStarted", "WaitCancelled"]


def test_async_parallel_runs_branches_as_tasks(app: App, clock: ManualClock) -> None:
    arrived = 0
    both = asyncio.Event()

    async def meet(label: str) -> str:
        # Each branch waits for the other: run one after the other, they would time out.
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            both.set()
        await asyncio.wait_for(both.wait(), timeout=10)
        return label

    @app.function
    async def flow(ctx: AsyncDurableContext) -> list[str | None]:
        async def waits(c: AsyncDurableContext) -> str:
            await c.wait(5)
            return "waited"
        first = await ctx.parallel([lambda c: c.step(meet, "left"),
                                    lambda c: c.step(meet, "right")])
        second = await ctx.parallel([waits, lambda c: c.step(lambda: "x", name="x")])
        return first.results() + second.results()

    handle = app.start(flow, id="as")
    worker = app.worker()
    worker.drain()
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(6)
    worker.drain()
    assert handle.result(timeout=5) == ["left", "right", "waited", "x"]
    assert arrived == 2


def test_timeout_while_a_branch_waits_ends_the_execution(app: App, clock: ManualClock) -> None:
    @app.function(timeout=60)
    def flow(ctx: DurableContext) -> None:
        ctx.parallel([lambda c: c.wait(3600), lambda c: "quick"])

    handle = app.start(flow, id="t")
    worker = app.worker()
    worker.drain()
    clock.advance(61)
    worker.drain()
    assert handle.status() is ExecutionStatus.TIMED_OUT
    statuses = {op.id: op.status for op in handle.operations()}
    assert statuses == {"1": OperationStatus.CANCELLED, "1-1": OperationStatus.CANCELLED,
                        "1-1-1": OperationStatus.CANCELLED, "1-2": OperationStatus.SUCCEEDED}

"""Child contexts: operations grouped under one CONTEXT "RunInChildContext" with its own result."""

from __future__ import annotations

from collections import Counter

import pytest

from redwood import (
    App,
    AsyncDurableContext,
    ChildContextFailed,
    DurableContext,
    ExecutionFailed,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    OperationType,
    RetryPolicy,
    StepFailed,
)

pytestmark = pytest.mark.every_store


def _ops(app: App, execution_id: str) -> dict[str, tuple[str, str | None, str | None, str]]:
    return {op.id: (op.type.value, op.subtype, op.name, op.status.value)
            for op in app.client.operations(execution_id)}


def test_child_context_groups_its_operations_under_one_context_operation(app: App) -> None:
    def add(a: int, b: int) -> int:
        return a + b

    def pricing(ctx: DurableContext) -> int:
        return ctx.step(add, 1, 2) + ctx.step(add, 10, 20)

    @app.function
    def order(ctx: DurableContext) -> int:
        total = ctx.run_in_child_context(pricing)
        return total + ctx.step(add, 100, 0)

    handle = app.start(order, id="order-1")
    app.worker().drain()
    assert handle.result(timeout=5) == 133
    assert _ops(app, "order-1") == {
        "1": ("CONTEXT", "RunInChildContext", "pricing", "SUCCEEDED"),
        "1-1": ("STEP", None, "add", "SUCCEEDED"),
        "1-2": ("STEP", None, "add", "SUCCEEDED"),
        "2": ("STEP", None, "add", "SUCCEEDED"),
    }
    context_op = next(op for op in handle.operations() if op.id == "1")
    assert context_op.result == "33"
    events = [(e.type, e.subtype, e.operation_id) for e in handle.history()
              if e.type.startswith("Context")]
    assert events == [("ContextStarted", "RunInChildContext", "1"),
                      ("ContextSucceeded", "RunInChildContext", "1")]


def test_completed_child_context_is_not_run_again_on_replay(app: App, clock: ManualClock) -> None:
    entered: Counter[str] = Counter()

    def child(ctx: DurableContext) -> str:
        entered["child"] += 1
        return ctx.step(lambda: "done", name="work")

    @app.function
    def parent(ctx: DurableContext) -> str:
        value = ctx.run_in_child_context(child, name="child")
        ctx.wait(10)
        return value

    handle = app.start(parent, id="p")
    worker = app.worker()
    worker.drain()
    clock.advance(11)
    worker.drain()
    assert handle.result(timeout=5) == "done"
    assert entered["child"] == 1  # the second invocation returned the recorded result


def test_child_context_that_waits_resumes_inside_the_child(app: App, clock: ManualClock) -> None:
    @app.function
    def parent(ctx: DurableContext) -> str:
        def child(c: DurableContext) -> str:
            c.wait(30)
            return c.step(lambda: "after wait", name="after")
        return ctx.run_in_child_context(child, name="waiting")

    handle = app.start(parent, id="w")
    worker = app.worker()
    worker.drain()
    assert _ops(app, "w")["1"] == ("CONTEXT", "RunInChildContext", "waiting", "STARTED")
    assert _ops(app, "w")["1-1"][0] == "WAIT"
    clock.advance(31)
    worker.drain()
    assert handle.result(timeout=5) == "after wait"
    assert _ops(app, "w")["1"][3] == "SUCCEEDED"


def test_error_in_child_context_fails_the_parent_unless_caught(app: App) -> None:
    def child(ctx: DurableContext) -> None:
        raise KeyError("sku-9")

    @app.function
    def uncaught(ctx: DurableContext) -> None:
        ctx.run_in_child_context(child, name="lookup")

    handle = app.start(uncaught, id="u")
    app.worker().drain()
    with pytest.raises(ExecutionFailed) as failed:
        handle.result(timeout=5)
    assert failed.value.error_type == "redwood.errors.ChildContextFailed"
    assert "sku-9" in failed.value.message
    op = next(op for op in handle.operations() if op.id == "1")
    assert op.status is OperationStatus.FAILED
    assert op.error is not None and op.error.type == "builtins.KeyError"
    assert [e.subtype for e in handle.history() if e.type == "ContextFailed"] == \
        ["RunInChildContext"]


def test_caught_child_context_failure_is_raised_the_same_on_replay(
    app: App, clock: ManualClock
) -> None:
    seen: list[tuple[str, str, bool]] = []

    def child(ctx: DurableContext) -> None:
        ctx.step(_explode, name="explode", retry=RetryPolicy.none())

    @app.function
    def parent(ctx: DurableContext) -> str:
        try:
            ctx.run_in_child_context(child, name="risky")
        except ChildContextFailed as error:
            seen.append((error.message, error.error_type, error.matches(StepFailed)))
        ctx.wait(5)
        return "recovered"

    handle = app.start(parent, id="c")
    worker = app.worker()
    worker.drain()
    clock.advance(6)
    worker.drain()
    assert handle.result(timeout=5) == "recovered"
    assert len(seen) == 2 and seen[0] == seen[1]
    message, error_type, matched = seen[0]
    assert error_type == "redwood.errors.StepFailed" and matched
    assert 'Child context "risky" (operation #1)' in message and "boom" in message


def _explode() -> None:
    raise RuntimeError("boom")


def test_nested_child_contexts_take_ids_from_their_parents(app: App) -> None:
    @app.function
    def deep(ctx: DurableContext) -> int:
        def level(depth: int):  # type: ignore[no-untyped-def]
            def run(c: DurableContext) -> int:
                if depth == 0:
                    return c.step(lambda: 1, name="leaf")
                c.step(lambda: 0, name=f"before-{depth}")
                return 1 + c.run_in_child_context(level(depth - 1), name=f"level-{depth - 1}")
            return run
        return ctx.run_in_child_context(level(3), name="level-3")

    handle = app.start(deep, id="deep")
    app.worker().drain()
    assert handle.result(timeout=5) == 4
    ops = _ops(app, "deep")
    assert ops["1-2-2-2-1"] == ("STEP", None, "leaf", "SUCCEEDED")
    assert ops["1-2-2"] == ("CONTEXT", "RunInChildContext", "level-1", "SUCCEEDED")
    parents = {op.id: op.parent_id for op in handle.operations()}
    assert parents["1-2-2-2-1"] == "1-2-2-2" and parents["1"] is None


def test_changed_child_context_name_is_a_non_determinism_error(
    app: App, clock: ManualClock
) -> None:
    names = iter(["first", "renamed"])

    @app.function
    def parent(ctx: DurableContext) -> None:
        ctx.run_in_child_context(lambda c: None, name=next(names))
        ctx.wait(5)

    handle = app.start(parent, id="nd")
    worker = app.worker()
    worker.drain()
    clock.advance(6)
    worker.drain()
    with pytest.raises(ExecutionFailed) as failed:
        handle.result(timeout=5)
    assert failed.value.error_type == "redwood.errors.NonDeterminism"
    assert 'child context (RunInChildContext) "first"' in failed.value.message


def test_async_child_context_records_and_replays_like_the_sync_one(
    app: App, clock: ManualClock
) -> None:
    entered: Counter[str] = Counter()

    async def child(ctx: AsyncDurableContext) -> list[int]:
        entered["child"] += 1

        async def fetch(n: int) -> int:
            return n * 3
        return [await ctx.step(fetch, 1), await ctx.step(fetch, 2)]

    @app.function
    async def parent(ctx: AsyncDurableContext) -> list[int]:
        values = await ctx.run_in_child_context(child, name="fetch-all")
        await ctx.wait(10)
        return values

    handle = app.start(parent, id="a")
    worker = app.worker()
    worker.drain()
    clock.advance(11)
    worker.drain()
    assert handle.result(timeout=5) == [3, 6]
    assert entered["child"] == 1
    assert _ops(app, "a")["1-2"] == ("STEP", None, "fetch", "SUCCEEDED")


def test_cancelling_a_waiting_child_context_stops_the_execution(app: App) -> None:
    @app.function
    def parent(ctx: DurableContext) -> None:
        ctx.run_in_child_context(lambda c: c.wait(3600), name="long")

    handle = app.start(parent, id="x")
    app.worker().drain()
    handle.cancel()
    assert handle.status() is ExecutionStatus.STOPPED
    statuses = {op.id: op.status for op in handle.operations()}
    assert statuses == {"1": OperationStatus.CANCELLED, "1-1": OperationStatus.CANCELLED}
    assert handle.get().ready_at is None
    assert all(op.due_at is None for op in handle.operations()
               if op.type is OperationType.WAIT)


def test_timeout_while_a_child_context_waits_ends_the_execution(
    app: App, clock: ManualClock
) -> None:
    @app.function(timeout=60)
    def parent(ctx: DurableContext) -> None:
        ctx.run_in_child_context(lambda c: c.wait(3600), name="long")

    handle = app.start(parent, id="t")
    worker = app.worker()
    worker.drain()
    clock.advance(61)
    worker.drain()
    assert handle.status() is ExecutionStatus.TIMED_OUT
    statuses = {op.id: op.status for op in handle.operations()}
    assert statuses == {"1": OperationStatus.CANCELLED, "1-1": OperationStatus.CANCELLED}
    assert [e.type for e in handle.history() if e.operation_id == "1"] == \
        ["ContextStarted", "ContextCancelled"]

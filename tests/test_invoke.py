"""ctx.invoke: child executions with their own ids and histories, results and failures flowing up,
and deep trees (invoke inside map inside a child context)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from conftest import wait_until
from redwood import (
    App,
    AsyncDurableContext,
    ChildContextFailed,
    DurableContext,
    ExecutionConflict,
    ExecutionStatus,
    InvokeFailed,
    ManualClock,
    OperationStatus,
    RetryPolicy,
    SerializationError,
    StepFailed,
    UnknownFunction,
)
from redwood.model import ExecutionFilter

pytestmark = pytest.mark.every_store


def _children(app: App, parent_id: str) -> list[str]:
    where = ExecutionFilter(parent_execution_id=parent_id)
    return sorted(execution.id for execution in app.store.list_executions(where))


def test_invoke_runs_the_child_as_its_own_execution_and_returns_its_result(app: App) -> None:
    @app.function
    def price(ctx: DurableContext, sku: str) -> int:
        return ctx.step(lambda: len(sku) * 100, name="lookup")

    @app.function
    def order(ctx: DurableContext, skus: list[str]) -> int:
        return sum(ctx.invoke(price, sku) for sku in skus)

    handle = app.start(order, ["ab", "abc"], id="order-7")
    app.worker().drain()
    assert handle.result(timeout=5) == 500
    assert _children(app, "order-7") == ["order-7:1", "order-7:2"]
    child = app.client.get("order-7:2")
    assert (child.function, child.parent_execution_id, child.parent_operation_id) == \
        ("price", "order-7", "2")
    assert app.client.result("order-7:2") == 300
    invoke_op = next(op for op in handle.operations() if op.id == "1")
    assert invoke_op.details["child_execution_id"] == "order-7:1"
    assert invoke_op.status is OperationStatus.SUCCEEDED and invoke_op.result == "200"
    events = [(e.type, e.operation_id) for e in handle.history() if "ChainedInvoke" in e.type]
    assert events == [("ChainedInvokeStarted", "1"), ("ChainedInvokeSucceeded", "1"),
                      ("ChainedInvokeStarted", "2"), ("ChainedInvokeSucceeded", "2")]
    started = app.client.history("order-7:1")[0]
    assert started.type == "ExecutionStarted"
    assert started.details["parent_execution_id"] == "order-7"


def test_child_failure_raises_invoke_failed_the_same_on_replay(
    app: App, clock: ManualClock
) -> None:
    seen: list[tuple[str, str, str, bool]] = []

    @app.function
    def charge(ctx: DurableContext, amount: int) -> None:
        ctx.step(_decline, amount, retry=RetryPolicy.none())

    @app.function
    def checkout(ctx: DurableContext) -> str:
        try:
            ctx.invoke(charge, 42, name="charge-card")
        except InvokeFailed as error:
            seen.append((error.message, error.status, error.error_type, error.matches(StepFailed)))
        ctx.wait(5)
        return "fell back to invoice"

    handle = app.start(checkout, id="co")
    worker = app.worker()
    worker.drain()
    clock.advance(6)
    worker.drain()
    assert handle.result(timeout=5) == "fell back to invoice"
    assert len(seen) == 2 and seen[0] == seen[1]
    message, status, error_type, matched = seen[0]
    assert status == "FAILED" and error_type == "redwood.errors.StepFailed" and matched
    assert 'Invoke "charge-card" (operation #1)' in message and "declined 42" in message
    assert [e.type for e in handle.history() if e.operation_id == "1"] == \
        ["ChainedInvokeStarted", "ChainedInvokeFailed"]


def _decline(amount: int) -> None:
    raise PermissionError(f"declined {amount}")


def test_replay_never_starts_the_child_twice(open_app: Callable[..., App]) -> None:
    app = open_app(always_replay=True)
    runs: Counter[str] = Counter()

    @app.function
    def child(ctx: DurableContext, n: int) -> int:
        return ctx.step(lambda: runs.update(["child"]) or n + 1, name="inc")

    @app.function
    def parent(ctx: DurableContext) -> int:
        first = ctx.invoke(child, 1)
        ctx.step(lambda: runs.update(["between"]), name="between")
        return first + ctx.invoke(child, 10)

    handle = app.start(parent, id="p")
    app.worker().drain()
    assert handle.result(timeout=5) == 13
    assert handle.get().invocations >= 4  # replayed after every operation
    assert _children(app, "p") == ["p:1", "p:3"]
    assert runs == Counter({"child": 2, "between": 1})


def test_invoking_an_unknown_function_fails_the_invoke_without_a_child(app: App) -> None:
    @app.function
    def parent(ctx: DurableContext) -> str:
        try:
            ctx.invoke("no-such-function", {"x": 1})
        except InvokeFailed as error:
            assert error.matches(UnknownFunction)
            return error.message
        return "invoked"

    handle = app.start(parent, id="u")
    app.worker().drain()
    message = handle.result(timeout=5)
    assert 'No durable function named "no-such-function"' in message
    assert _children(app, "u") == []


def test_invoke_whose_child_id_another_execution_took_fails_and_leaves_that_one_alone(
    app: App
) -> None:
    # A child's id is "<parent id>:<operation id>"; a user may have started an execution with
    # that id already. The invoke must fail at once rather than wait for an execution that
    # will never answer it.
    @app.function
    def price(ctx: DurableContext, sku: str) -> int:
        return ctx.step(lambda: len(sku) * 100, name="lookup")

    @app.function
    def order(ctx: DurableContext, sku: str) -> str:
        try:
            ctx.invoke(price, sku)
        except InvokeFailed as error:
            assert error.matches(ExecutionConflict)
            return error.message
        return "invoked"

    squatter = app.start(price, "abcd", id="order-9:1")
    app.worker().drain()
    assert squatter.result(timeout=5) == 400
    handle = app.start(order, "ab", id="order-9")
    app.worker().drain()
    message = handle.result(timeout=5)
    assert ('execution id "order-9:1" is taken by an execution of function "price" that is '
            "not its child") in message
    assert _children(app, "order-9") == []
    kept = app.client.get("order-9:1")
    assert (kept.status, kept.parent_execution_id, app.client.result("order-9:1")) == \
        (ExecutionStatus.SUCCEEDED, None, 400)
    events = [e.type for e in handle.history() if "ChainedInvoke" in e.type]
    assert events == ["ChainedInvokeStarted", "ChainedInvokeFailed"]


def test_unserializable_invoke_input_is_refused_before_anything_is_recorded(app: App) -> None:
    @app.function
    def child(ctx: DurableContext, payload: Any) -> None:
        return None

    @app.function
    def parent(ctx: DurableContext) -> str:
        try:
            ctx.invoke(child, object())
        except SerializationError as error:
            return error.message
        return "sent"

    handle = app.start(parent, id="s")
    app.worker().drain()
    assert "Cannot serialize the input of invoke \"child\"" in handle.result(timeout=5)
    assert handle.operations() == [] and _children(app, "s") == []


def test_child_final_commit_completes_the_parent_operation_and_wakes_it(
    app: App, clock: ManualClock
) -> None:
    @app.function
    def child(ctx: DurableContext) -> str:
        return "child result"

    @app.function
    def parent(ctx: DurableContext) -> str:
        return ctx.invoke(child)

    handle = app.start(parent, id="pa")
    worker = app.worker()
    assert worker.drain(limit=1) == 1  # the parent: starts the child, then suspends
    assert handle.get().ready_at is None  # nothing to do until the child ends
    [claim] = app.engine.claim("test", 1, 30.0)
    assert claim.execution.id == "pa:1"
    app.engine.invoke(claim)  # the child's only invocation, ending in its final commit
    invoke_op = next(op for op in handle.operations() if op.id == "1")
    assert invoke_op.status is OperationStatus.SUCCEEDED
    assert invoke_op.result == '"child result"'
    assert handle.get().ready_at == clock.now()
    worker.drain()
    assert handle.result(timeout=5) == "child result"


def test_child_that_ends_while_the_parent_runs_wakes_the_parent_after_its_release(
    app: App,
) -> None:
    @app.function
    def child(ctx: DurableContext) -> int:
        return 7

    @app.function
    def parent(ctx: DurableContext) -> list[int | None]:
        def call(c: DurableContext) -> int:
            return c.invoke(child)

        def busy(c: DurableContext) -> int:
            # Keep the parent's invocation (and its lease) busy until the child has ended.
            def until_child_done() -> int:
                wait_until(lambda: app.client.get("pa:1-1-1").status.finished, timeout=20,
                           what="the child to end")
                return 0
            return c.step(until_child_done)
        return ctx.parallel([call, busy]).results()

    with app.run_worker():
        handle = app.start(parent, id="pa")
        assert handle.result(timeout=20) == [7, 0]
    assert app.client.get("pa:1-1-1").status is ExecutionStatus.SUCCEEDED


def test_async_invoke_returns_the_child_result(app: App) -> None:
    @app.function
    async def shout(ctx: AsyncDurableContext, word: str) -> str:
        async def upper() -> str:
            return word.upper()
        return await ctx.step(upper)

    @app.function
    async def parent(ctx: AsyncDurableContext) -> str:
        return await ctx.invoke(shout, "hey") + await ctx.invoke("shout", "you")

    handle = app.start(parent, id="ap")
    app.worker().drain()
    assert handle.result(timeout=5) == "HEYYOU"


def test_leaf_failure_deep_in_the_tree_is_caught_two_levels_up(app: App) -> None:
    @app.function
    def leaf(ctx: DurableContext, n: int) -> int:
        if n == 3:
            ctx.step(_out_of_stock, n, retry=RetryPolicy.none())
        return ctx.step(lambda: n * 10, name="pick")

    @app.function
    def root(ctx: DurableContext, items: list[int]) -> dict[str, Any]:
        def shipment(c: DurableContext) -> list[int]:
            picked = c.map(items, lambda d, n: d.invoke(leaf, n), max_concurrency=2)
            picked.throw_if_error()  # the leaf's failure leaves the child context from here
            return picked.get_results()
        try:
            return {"picked": ctx.run_in_child_context(shipment, name="shipment")}
        except ChildContextFailed as error:
            released = ctx.step(lambda: "released stock", name="compensate")
            return {"caught": error.error_type, "message": error.message, "then": released}

    handle = app.start(root, [1, 2, 3, 4], id="tree")
    app.worker().drain()
    outcome = handle.result(timeout=5)
    assert outcome["caught"] == "redwood.errors.ChildContextFailed"  # the failed map item
    assert 'Child context "shipment"' in outcome["message"]
    assert "sku 3 is out of stock" in outcome["message"]
    assert outcome["then"] == "released stock"
    leaf_3 = app.client.get("tree:1-1-3-1")  # root > shipment (1) > map (1-1) > item 3 > invoke
    assert leaf_3.status is ExecutionStatus.FAILED and leaf_3.parent_operation_id == "1-1-3-1"
    statuses = {op.id: op.status for op in handle.operations()}
    assert statuses["1"] is OperationStatus.FAILED
    assert statuses["1-1-3"] is OperationStatus.FAILED
    assert statuses["1-1-3-1"] is OperationStatus.FAILED


def _out_of_stock(n: int) -> None:
    raise LookupError(f"sku {n} is out of stock")


def test_invoke_of_a_child_that_fails_at_once_is_still_catchable_in_async(app: App) -> None:
    @app.function
    async def boom(ctx: AsyncDurableContext) -> None:
        raise RuntimeError("child exploded")

    @app.function
    async def parent(ctx: AsyncDurableContext) -> str:
        with pytest.raises(InvokeFailed) as failed:
            await ctx.invoke(boom)
        return failed.value.error_type

    handle = app.start(parent, id="af")
    app.worker().drain()
    assert handle.result(timeout=5) == "builtins.RuntimeError"

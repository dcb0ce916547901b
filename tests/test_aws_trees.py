"""AWS handlers' child contexts, parallel, map, chained invokes and large results on Redwood."""

from __future__ import annotations

from typing import Any

import pytest
from aws_durable_execution_sdk_python import (
    BatchItemStatus,
    ChildContextError,
    DurableContext,
    InvokeError,
    durable_execution,
    durable_parallel_branch,
)
from aws_durable_execution_sdk_python.config import (
    CompletionConfig,
    Duration,
    MapConfig,
    ParallelConfig,
)
from aws_durable_execution_sdk_python.serdes import SerDes, SerDesContext

import redwood.aws
from aws_support import aws_events, drain, event_types, ops_named, run
from redwood import App, ExecutionStatus, ManualClock, OperationStatus, OperationType
from redwood import DurableContext as RedwoodContext


def test_child_context_groups_operations_and_replays_its_result(
    aws_app: App, clock: ManualClock
) -> None:
    runs: list[str] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        def shipping(child: DurableContext) -> str:
            runs.append("label")
            return child.step(lambda _: "label-1", name="label")

        label = context.run_in_child_context(shipping, name="shipping")
        context.wait(Duration.from_seconds(1))
        return label

    redwood.aws.register(aws_app, handler, name="ship")
    handle = run(aws_app, "ship", None, "ship-1")
    clock.advance(1)
    drain(aws_app)
    assert handle.result(timeout=5) == "label-1" and runs == ["label"]
    [context_op] = ops_named(handle, "shipping")
    [label] = ops_named(handle, "label")
    assert (context_op.type, context_op.subtype, label.parent_id) == (
        OperationType.CONTEXT, "RunInChildContext", context_op.id)
    started = [e for e in aws_events(aws_app, "ship-1") if e.get("Name") == "label"]
    assert {e["ParentId"] for e in started} == {context_op.id}


def test_failing_child_context_raises_child_context_error_on_every_replay(
    aws_app: App, clock: ManualClock
) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        def broken(child: DurableContext) -> str:
            raise KeyError("sku-9")

        try:
            context.run_in_child_context(broken, name="inventory")
        except ChildContextError as error:
            context.wait(Duration.from_seconds(1))
            return f"{error.error_type}: {error.message}"
        return "unreachable"

    redwood.aws.register(aws_app, handler, name="inventory")
    handle = run(aws_app, "inventory", None, "inventory-1")
    clock.advance(1)
    drain(aws_app)
    assert handle.result(timeout=5) == "KeyError: 'sku-9'"
    assert "ContextFailed" in event_types(aws_app, "inventory-1")


def test_large_child_result_is_replayed_from_its_children(aws_app: App, clock: ManualClock) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> int:
        def build(child: DurableContext) -> str:
            return child.step(lambda _: "x" * 300_000, name="blob")

        blob = context.run_in_child_context(build, name="big")
        context.wait(Duration.from_seconds(1))
        return len(blob)

    redwood.aws.register(aws_app, handler, name="big")
    handle = run(aws_app, "big", None, "big-1")
    [context_op] = ops_named(handle, "big")
    # Over the 256 KB checkpoint threshold: a summary is stored, and replay re-runs the children.
    assert context_op.details.get("replay_children") is True and context_op.result == ""
    clock.advance(1)
    drain(aws_app)
    assert handle.result(timeout=5) == 300_000


def test_large_execution_result_is_checkpointed_on_the_execution(db_path: Any,
                                                                 clock: ManualClock) -> None:
    app = App(db_path, clock=clock, max_payload_bytes=8 << 20)

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        return "y" * (6 * 1024 * 1024)  # above the Lambda response limit

    redwood.aws.register(app, handler, name="huge")
    handle = run(app, "huge", None, "huge-1")
    assert len(handle.result(timeout=5)) == 6 * 1024 * 1024
    app.close()


def test_parallel_branches_with_names_and_max_concurrency(aws_app: App) -> None:
    @durable_parallel_branch(name="fetch-user")
    def fetch_user(ctx: DurableContext, user: str) -> dict[str, str]:
        return ctx.step(lambda _: {"id": user}, name="load_user")

    @durable_parallel_branch(name="fetch-orders")
    def fetch_orders(ctx: DurableContext, user: str) -> list[str]:
        return ctx.step(lambda _: [f"{user}-o1"], name="load_orders")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> list[Any]:
        result = context.parallel([fetch_user(event), fetch_orders(event)], name="load",
                                  config=ParallelConfig(max_concurrency=1))
        return result.get_results()

    redwood.aws.register(aws_app, handler, name="load")
    handle = run(aws_app, "load", "ann", "load-1")
    assert handle.result(timeout=5) == [{"id": "ann"}, ["ann-o1"]]
    branches = [op for op in handle.operations() if op.subtype == "ParallelBranch"]
    assert sorted(op.name or "" for op in branches) == ["fetch-orders", "fetch-user"]
    [parallel] = ops_named(handle, "load")
    assert {op.parent_id for op in branches} == {parallel.id}


def test_map_with_item_namer_per_item_serdes_and_tolerated_failures(
    aws_app: App, clock: ManualClock
) -> None:
    class Shouting(SerDes[Any]):
        def serialize(self, value: Any, context: SerDesContext) -> str:
            return str(value).upper()

        def deserialize(self, data: str, context: SerDesContext) -> Any:
            return data

    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, Any]:
        def check(ctx: DurableContext, sku: str, index: int, items: Any) -> str:
            stock = ctx.step(lambda _: 0 if sku == "b" else 5, name="stock")
            if stock == 0:
                raise LookupError(f"{sku} is out of stock")
            ctx.wait(Duration.from_seconds(30))
            return f"{sku}:{stock}"

        config = MapConfig(item_namer=lambda sku, i: f"sku-{sku}", item_serdes=Shouting(),
                           completion_config=CompletionConfig(tolerated_failure_count=1))
        result = context.map(event, check, name="stock-check", config=config)
        return {"ok": [i.result for i in result.succeeded()],
                "failed": [i.error.message for i in result.failed() if i.error]}

    redwood.aws.register(aws_app, handler, name="stock")
    handle = run(aws_app, "stock", ["a", "b", "c"], "stock-1")
    assert handle.status() is ExecutionStatus.RUNNING  # two items wait
    clock.advance(30)
    drain(aws_app)
    assert handle.result(timeout=5) == {"ok": ["A:5", "C:5"], "failed": ["b is out of stock"]}
    items = [op for op in handle.operations() if op.subtype == "MapIteration"]
    assert sorted(op.name or "" for op in items) == ["sku-a", "sku-b", "sku-c"]
    assert {op.status for op in items} == {OperationStatus.SUCCEEDED, OperationStatus.FAILED}


def test_map_completes_early_and_omits_branches_that_never_started(aws_app: App) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, Any]:
        def quote(ctx: DurableContext, vendor: str, index: int, items: Any) -> str:
            return ctx.step(lambda _: f"{vendor}-quote", name="quote")

        config = MapConfig(max_concurrency=1,
                           completion_config=CompletionConfig(min_successful=2))
        result = context.map(event, quote, name="quotes", config=config)
        return {"reason": result.completion_reason.value,
                "items": [(i.index, i.status.value) for i in result.all]}

    redwood.aws.register(aws_app, handler, name="quotes")
    handle = run(aws_app, "quotes", ["v1", "v2", "v3", "v4"], "quotes-1")
    outcome = handle.result(timeout=5)
    assert outcome["reason"] == "MIN_SUCCESSFUL_REACHED"
    assert outcome["items"] == [[0, BatchItemStatus.SUCCEEDED.value],
                                [1, BatchItemStatus.SUCCEEDED.value]]
    items = [op for op in handle.operations() if op.subtype == "MapIteration"]
    assert len(items) == 2  # v3 and v4 never started: no operations, no results


def test_nested_parallel_inside_map(aws_app: App) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> list[Any]:
        def per_item(ctx: DurableContext, n: int, index: int, items: Any) -> list[int]:
            inner = ctx.parallel([lambda c: c.step(lambda _: n, name="same"),
                                  lambda c: c.step(lambda _: n * n, name="square")])
            return inner.get_results()

        return context.map(event, per_item, name="outer").get_results()

    redwood.aws.register(aws_app, handler, name="nested")
    handle = run(aws_app, "nested", [2, 3], "nested-1")
    assert handle.result(timeout=5) == [[2, 4], [3, 9]]


def test_chained_invoke_of_an_aws_handler_and_of_a_redwood_function(aws_app: App) -> None:
    @aws_app.function
    def tax(ctx: RedwoodContext, amount: int) -> int:
        return ctx.step(lambda: amount // 10, name="rate")

    @durable_execution
    def pricing(event: Any, context: DurableContext) -> dict[str, int]:
        return {"net": context.step(lambda _: event["gross"] - 5, name="discount")}

    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, int]:
        price = context.invoke("pricing", {"gross": event}, name="price")
        levy = context.invoke("arn:aws:lambda:us-east-1:123456789012:function:tax:prod",
                              price["net"], name="tax")
        return {"net": price["net"], "tax": levy}

    redwood.aws.register(aws_app, pricing, name="pricing")
    redwood.aws.register(aws_app, handler, name="checkout")
    handle = aws_app.start("checkout", 105, id="checkout-1")
    for _ in range(4):  # parent -> child -> parent -> child -> parent
        drain(aws_app)
    assert handle.result(timeout=5) == {"net": 100, "tax": 10}
    invokes = [op for op in handle.operations() if op.type is OperationType.CHAINED_INVOKE]
    children = [aws_app.client.get(op.details["child_execution_id"]) for op in invokes]
    assert [(c.function, c.parent_execution_id) for c in children] == [
        ("pricing", "checkout-1"), ("tax", "checkout-1")]
    [started, *_] = [e for e in aws_events(aws_app, "checkout-1")
                     if e["EventType"] == "ChainedInvokeStarted"]
    assert started["ChainedInvokeStartedDetails"]["FunctionName"] == "pricing"
    assert started["ChainedInvokeStartedDetails"]["Input"]["Payload"] == '{"gross": 105}'


def test_failed_or_unknown_invoke_target_raises_invoke_error(aws_app: App) -> None:
    @aws_app.function
    def broken(ctx: RedwoodContext) -> None:
        raise RuntimeError("no tax tables")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> list[str]:
        outcomes = []
        for target in ("broken", "missing"):
            try:
                context.invoke(target, None, name=target)
            except InvokeError as error:
                outcomes.append(f"{target}: {error.message}")
        return outcomes

    redwood.aws.register(aws_app, handler, name="caller")
    handle = aws_app.start("caller", None, id="caller-1")
    for _ in range(3):
        drain(aws_app)
    first, second = handle.result(timeout=5)
    assert first == "broken: no tax tables"
    assert second.startswith('missing: No durable function named "missing"')
    assert "ChainedInvokeFailed" in event_types(aws_app, "caller-1")


def test_redwood_function_invokes_an_aws_handler(aws_app: App) -> None:
    @durable_execution
    def greet(event: Any, context: DurableContext) -> str:
        return context.step(lambda _: f"hello {event['who']}", name="greet")

    redwood.aws.register(aws_app, greet, name="greet")

    @aws_app.function
    def native(ctx: RedwoodContext, who: str) -> str:
        return str(ctx.invoke("greet", {"who": who}))

    handle = aws_app.start(native, "bo", id="native-1")
    for _ in range(3):
        drain(aws_app)
    assert handle.result(timeout=5) == "hello bo"


@pytest.mark.parametrize("early", [True, False], ids=["cancel-while-waiting", "cancel-at-claim"])
def test_cancelling_an_aws_execution_stops_it(aws_app: App, early: bool) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        context.wait(Duration.from_days(1))
        return "unreachable"

    redwood.aws.register(aws_app, handler, name="cancel-me")
    handle = aws_app.start("cancel-me", None, id="cancel-me-1")
    if not early:
        drain(aws_app)
    handle.cancel()
    drain(aws_app)
    assert handle.status() is ExecutionStatus.STOPPED
    assert event_types(aws_app, "cancel-me-1")[-1] == "ExecutionStopped"


def test_execution_timeout_ends_a_waiting_aws_execution(aws_app: App, clock: ManualClock) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        context.wait(Duration.from_hours(2))
        return "unreachable"

    redwood.aws.register(aws_app, handler, name="slow", timeout=3600)
    handle = run(aws_app, "slow", None, "slow-1")
    clock.advance(3600)
    drain(aws_app)
    assert handle.status() is ExecutionStatus.TIMED_OUT
    events = aws_events(aws_app, "slow-1")
    assert events[0]["ExecutionStartedDetails"]["ExecutionTimeout"] == 3600
    assert events[-1]["EventType"] == "ExecutionTimedOut"

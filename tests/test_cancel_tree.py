"""Cancellation: an execution stops at its next operation, its timers are cleared, and stopping
flows down the tree of invoked executions while failures flow up."""

from __future__ import annotations

import threading

import pytest

from conftest import wait_until
from redwood import (
    App,
    DurableContext,
    ExecutionStatus,
    InvokeFailed,
    ManualClock,
    OperationStatus,
    RetryPolicy,
)

pytestmark = pytest.mark.every_store


def _register_waiting_tree(app: App) -> None:
    @app.function
    def leaf(ctx: DurableContext) -> None:
        ctx.wait(3600)

    @app.function
    def middle(ctx: DurableContext) -> None:
        ctx.invoke(leaf)

    @app.function
    def top(ctx: DurableContext) -> None:
        ctx.invoke(middle)


def test_cancelling_a_parent_stops_its_children_at_every_level(app: App) -> None:
    _register_waiting_tree(app)
    handle = app.start("top", id="top")
    app.worker().drain()
    assert app.client.get("top:1:1").status is ExecutionStatus.RUNNING
    handle.cancel()
    for execution_id in ("top", "top:1", "top:1:1"):
        execution = app.client.get(execution_id)
        assert execution.status is ExecutionStatus.STOPPED, execution_id
        assert execution.ready_at is None
    [leaf_wait] = app.client.operations("top:1:1")
    assert leaf_wait.status is OperationStatus.CANCELLED and leaf_wait.due_at is None
    stopped = app.client.history("top:1:1")[-1]
    assert stopped.type == "ExecutionStopped"
    assert stopped.details == {"reason": 'its parent execution "top:1" ended STOPPED',
                               "cancelled_operations": ["1"]}


def test_cancelled_child_reaches_the_parent_which_can_compensate(app: App) -> None:
    @app.function
    def child(ctx: DurableContext) -> None:
        ctx.wait(3600)

    @app.function
    def parent(ctx: DurableContext) -> str:
        try:
            ctx.invoke(child, name="reserve")
        except InvokeFailed as error:
            status = error.status
            return ctx.step(lambda: f"compensated after {status}", name="compensate")
        return "reserved"

    handle = app.start(parent, id="p")
    worker = app.worker()
    worker.drain()
    app.client.cancel("p:1")
    assert handle.get().ready_at is not None  # woken by the child's end
    worker.drain()
    assert handle.result(timeout=5) == "compensated after STOPPED"
    assert [e.type for e in handle.history() if e.operation_id == "1"] == \
        ["ChainedInvokeStarted", "ChainedInvokeStopped"]


def test_cancel_stops_a_running_map_at_its_next_operation(app: App) -> None:
    ran: list[int] = []
    inside = threading.Event()

    def work(n: int) -> int:
        ran.append(n)
        if n == 0:
            inside.set()
            wait_until(lambda: app.client.get("m").cancel_requested, timeout=20,
                       what="the cancel request")
        return n

    @app.function
    def flow(ctx: DurableContext) -> list[int | None]:
        def item(c: DurableContext, n: int) -> int:
            return c.step(work, n) + c.step(work, n + 100)
        return ctx.map(range(3), item, max_concurrency=1).results()

    with app.run_worker():
        handle = app.start(flow, id="m")
        assert inside.wait(20)
        handle.cancel()
        wait_until(lambda: handle.status().finished, timeout=20, what="the execution to stop")
    assert handle.status() is ExecutionStatus.STOPPED
    assert ran == [0]  # the step running when the cancel came finished; nothing after it ran
    statuses = {op.id: op.status for op in handle.operations()}
    assert statuses["1-1-1"] is OperationStatus.SUCCEEDED
    assert statuses["1"] is OperationStatus.CANCELLED
    assert statuses["1-1"] is OperationStatus.CANCELLED


def test_stopping_a_parent_flags_its_running_child_which_stops_at_its_next_step(
    app: App,
) -> None:
    inside = threading.Event()
    after: list[str] = []

    def hold() -> str:
        inside.set()
        wait_until(lambda: app.client.get("p:1").cancel_requested, timeout=20,
                   what="the child's cancel flag")
        return "held"

    @app.function
    def child(ctx: DurableContext) -> None:
        ctx.step(hold)
        ctx.step(lambda: after.append("next"), name="next")

    @app.function
    def parent(ctx: DurableContext) -> None:
        ctx.invoke(child)

    with app.run_worker():
        handle = app.start(parent, id="p")
        assert inside.wait(20)
        wait_until(lambda: handle.get().lease_owner is None, timeout=20,
                   what="the parent to suspend")
        handle.cancel()  # the parent stops now; its child is running, so it is flagged
        assert handle.status() is ExecutionStatus.STOPPED
        wait_until(lambda: app.client.get("p:1").status.finished, timeout=20,
                   what="the child to stop")
    assert app.client.get("p:1").status is ExecutionStatus.STOPPED
    assert after == []


def test_cancel_clears_pending_timers_and_retry_back_offs(app: App, clock: ManualClock) -> None:
    def flaky() -> None:
        raise ConnectionError("down")

    @app.function
    def flow(ctx: DurableContext) -> None:
        ctx.parallel([lambda c: c.wait(600),
                      lambda c: c.step(flaky, retry=RetryPolicy.fixed(300, max_attempts=5))])

    handle = app.start(flow, id="t")
    app.worker().drain()
    assert handle.get().ready_at == clock.now() + 300
    handle.cancel()
    execution = handle.get()
    assert execution.status is ExecutionStatus.STOPPED and execution.ready_at is None
    ops = handle.operations()
    assert all(op.status.finished and op.due_at is None for op in ops)
    assert {op.id: op.status for op in ops if op.type.value != "CONTEXT"} == {
        "1-1-1": OperationStatus.CANCELLED, "1-2-1": OperationStatus.CANCELLED}
    assert handle.history()[-1].details["cancelled_operations"] == ["1", "1-1", "1-1-1", "1-2",
                                                                      "1-2-1"]


def test_branch_abandoned_by_fail_fast_stops_the_child_it_invoked(
    app: App, clock: ManualClock
) -> None:
    @app.function
    def child(ctx: DurableContext) -> None:
        ctx.wait(3600)

    @app.function
    def parent(ctx: DurableContext) -> list[str]:
        def fails(c: DurableContext) -> None:
            c.wait(10)
            raise ValueError("gave up")
        result = ctx.parallel([lambda c: c.invoke(child), fails])
        return [item.status.value for item in result.items]

    handle = app.start(parent, id="p")
    worker = app.worker()
    worker.drain()
    assert app.client.get("p:1-1-1").status is ExecutionStatus.RUNNING
    clock.advance(11)
    worker.drain()
    assert handle.result(timeout=5) == ["CANCELLED", "FAILED"]
    child_execution = app.client.get("p:1-1-1")
    assert child_execution.status is ExecutionStatus.STOPPED
    assert app.client.history("p:1-1-1")[-1].details["reason"] == \
        "its invoke operation was cancelled"

"""The client: idempotent starts, status and results, listing, history, and cancellation."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from typing import Any

import pytest

from conftest import wait_until
from redwood import (
    App,
    DurableContext,
    ExecutionConflict,
    ExecutionFailed,
    ExecutionStatus,
    LeaseLost,
    ManualClock,
    OperationStatus,
    ResultTimeout,
    RetryPolicy,
    UnknownExecution,
    ValidationError,
)

pytestmark = pytest.mark.every_store


def _counting(app: App, runs: Counter[str], name: str = "greet") -> Any:
    def body(who: str) -> str:
        runs[name] += 1
        return f"hello {who}"

    @app.function(name=name)
    def f(ctx: DurableContext, who: str) -> str:
        return ctx.step(body, who)

    return f


def _sleeper(app: App) -> Any:
    @app.function
    def sleeper(ctx: DurableContext) -> str:
        ctx.wait(3600)
        return "woke"

    return sleeper


# --- starting ---------------------------------------------------------------------------------


def test_starting_the_same_id_twice_returns_the_first_execution(any_app: App) -> None:
    runs: Counter[str] = Counter()
    greet = _counting(any_app, runs)
    first = any_app.start(greet, "ada", id="greeting-1")
    second = any_app.start(greet, "bob", id="greeting-1")
    assert (first.id, first.created) == ("greeting-1", True)
    assert (second.id, second.created) == ("greeting-1", False)
    any_app.worker().drain()
    assert second.result(timeout=5) == "hello ada"
    assert runs == {"greet": 1}
    third = any_app.start(greet, "eve", id="greeting-1")  # also after it finished
    assert third.created is False
    assert third.result(timeout=5) == "hello ada"
    assert len(any_app.client.list()) == 1


def test_same_id_for_another_function_is_a_conflict(app: App) -> None:
    greet = _counting(app, Counter())
    other = _counting(app, Counter(), name="other")
    app.start(greet, "ada", id="shared-id")
    with pytest.raises(ExecutionConflict, match='"shared-id" already exists for function "greet"'):
        app.start(other, "ada", id="shared-id")
    assert app.client.get("shared-id").function == "greet"
    assert len(app.client.list()) == 1


def test_start_without_id_generates_a_unique_one(app: App) -> None:
    greet = _counting(app, Counter())
    ids = {app.start(greet, "x").id for _ in range(3)}
    assert len(ids) == 3


def test_start_by_name_runs_the_registered_function(app: App) -> None:
    _counting(app, Counter())
    handle = app.start("greet", "ada", id="by-name")
    app.worker().drain()
    assert handle.result(timeout=5) == "hello ada"


# --- following ---------------------------------------------------------------------------------


def test_status_follows_the_execution(app: App, clock: ManualClock) -> None:
    handle = app.start(_sleeper(app), id="status")
    assert handle.status() is ExecutionStatus.RUNNING
    worker = app.worker()
    worker.drain()
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(3600)
    worker.drain()
    assert handle.status() is ExecutionStatus.SUCCEEDED
    execution = handle.get()
    assert (execution.function, execution.ended_at) == ("sleeper", clock.now())


def test_result_times_out_while_the_execution_waits(app: App) -> None:
    handle = app.start(_sleeper(app), id="slow")
    app.worker().drain()
    with pytest.raises(ResultTimeout, match='"slow" is still RUNNING') as raised:
        handle.result(timeout=0.05)
    assert raised.value.execution_id == "slow"
    assert handle.status() is ExecutionStatus.RUNNING


def test_result_of_a_failed_execution_raises_execution_failed(any_app: App) -> None:
    @any_app.function
    def broken(ctx: DurableContext) -> None:
        raise ValueError("bad input")

    handle = any_app.start(broken, id="broken")
    any_app.worker().drain()
    with pytest.raises(ExecutionFailed) as raised:
        handle.result(timeout=5)
    assert (raised.value.status, raised.value.error_type, raised.value.error_message) == (
        ExecutionStatus.FAILED, "builtins.ValueError", "bad input")


def test_unknown_execution_ids_raise_unknown_execution(app: App) -> None:
    for call in (app.client.get, app.client.handle, app.client.history, app.client.operations,
                 app.client.cancel):
        with pytest.raises(UnknownExecution, match='No execution "nope"'):
            call("nope")
    with pytest.raises(UnknownExecution):
        app.client.result("nope", timeout=1)


# --- listing ----------------------------------------------------------------------------------


def test_list_filters_by_function_status_and_time(app: App, clock: ManualClock) -> None:
    greet = _counting(app, Counter())
    sleeper = _sleeper(app)
    t0 = clock.now()
    for i in range(3):
        app.start(greet, f"g{i}", id=f"greet-{i}")
        clock.advance(1)
    app.start(sleeper, id="sleeper-0")
    clock.advance(1)
    app.worker().drain()
    ids = lambda executions: [e.id for e in executions]  # noqa: E731
    assert ids(app.client.list()) == ["sleeper-0", "greet-2", "greet-1", "greet-0"]
    assert ids(app.client.list(function="greet")) == ["greet-2", "greet-1", "greet-0"]
    assert ids(app.client.list(status=ExecutionStatus.RUNNING)) == ["sleeper-0"]
    assert ids(app.client.list(status=["SUCCEEDED"], function="greet", limit=2)) == [
        "greet-2", "greet-1"]
    assert ids(app.client.list(since=t0 + 1, until=t0 + 3)) == ["greet-2", "greet-1"]
    assert ids(app.client.list(id_contains="eep")) == ["sleeper-0"]
    assert app.client.list(function="nobody") == []


def test_list_pages_with_limit_and_until(app: App, clock: ManualClock) -> None:
    greet = _counting(app, Counter())
    for i in range(7):
        app.start(greet, "x", id=f"page-{i}")
        clock.advance(1)
    seen: list[str] = []
    until = None
    while True:
        page = app.client.list(limit=3, until=until)
        if not page:
            break
        assert len(page) <= 3
        seen.extend(e.id for e in page)
        until = page[-1].created_at
    assert seen == [f"page-{i}" for i in reversed(range(7))]


def test_list_pages_through_executions_created_at_the_same_instant(app: App) -> None:
    greet = _counting(app, Counter())
    for i in range(7):
        app.start(greet, "x", id=f"same-{i}")  # the clock does not move between starts
    seen: list[str] = []
    page = app.client.list(limit=3)
    while page:
        seen.extend(e.id for e in page)
        page = app.client.list(limit=3, after=page[-1])
    assert sorted(seen) == [f"same-{i}" for i in range(7)]
    assert len(seen) == 7


@pytest.mark.parametrize("limit", [0, -1])
def test_list_refuses_a_limit_below_one(app: App, limit: int) -> None:
    with pytest.raises(ValidationError, match="limit"):
        app.client.list(limit=limit)


def test_concurrent_starts_of_one_id_create_one_execution(app: App) -> None:
    runs: Counter[str] = Counter()
    greet = _counting(app, runs)
    created: list[bool] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        created.append(app.start(greet, "ada", id="contended").created)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created) == [False] * 7 + [True]
    app.worker().drain()
    assert runs == {"greet": 1}


# --- history ----------------------------------------------------------------------------------


def test_history_tells_the_story_of_steps_retries_and_a_wait(
    app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()

    def reserve() -> str:
        runs["reserve"] += 1
        if runs["reserve"] == 1:
            raise ConnectionError("stock service down")
        return "reserved"

    def ship() -> str:
        return "shipped"

    @app.function
    def order(ctx: DurableContext, sku: str) -> str:
        ctx.step(reserve, retry=RetryPolicy.fixed(10.0))
        ctx.wait(60, name="cooling-off")
        return ctx.step(ship)

    handle = app.start(order, "sku-1", id="story")
    worker = app.worker()
    t0 = clock.now()
    worker.drain()
    clock.advance(10)
    worker.drain()
    clock.advance(60)
    worker.drain()
    assert handle.result(timeout=5) == "shipped"
    story = [(e.type, e.operation_id, e.name) for e in handle.history()]
    assert story == [
        ("ExecutionStarted", None, "order"),
        ("StepStarted", "1", "reserve"),
        ("StepFailed", "1", "reserve"),
        ("InvocationCompleted", None, None),
        ("StepStarted", "1", "reserve"),
        ("StepSucceeded", "1", "reserve"),
        ("WaitStarted", "2", "cooling-off"),
        ("InvocationCompleted", None, None),
        ("WaitSucceeded", "2", "cooling-off"),
        ("StepStarted", "3", "ship"),
        ("StepSucceeded", "3", "ship"),
        ("InvocationCompleted", None, None),
        ("ExecutionSucceeded", None, None),
    ]
    events = handle.history()
    assert events[0].details["input"] == '"sku-1"'
    failed = events[2].details
    assert failed["attempt"] == 1
    assert failed["error"]["type"] == "builtins.ConnectionError"
    assert failed["error"]["message"] == "stock service down"
    assert failed["retry"] == {"next_attempt_at": t0 + 10.0, "delay": 10.0}
    assert events[4].details["attempt"] == 2
    assert events[5].details == {"result": '"reserved"', "attempt": 2}
    assert events[6].details["scheduled_end"] == t0 + 10 + 60
    assert events[-1].details == {"result": '"shipped"'}
    assert [e.details["ending"] for e in events if e.type == "InvocationCompleted"] == [
        "SUSPENDED", "SUSPENDED", "SUCCEEDED"]
    assert all(a.id < b.id for a, b in itertools.pairwise(events))
    assert all(e.execution_id == "story" for e in events)


def test_history_of_a_failed_execution_ends_with_execution_failed(app: App) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    @app.function
    def f(ctx: DurableContext) -> None:
        ctx.step(boom, retry=RetryPolicy.none())

    handle = app.start(f, id="failed-story")
    app.worker().drain()
    types = [e.type for e in handle.history()]
    assert types == ["ExecutionStarted", "StepStarted", "StepFailed", "InvocationCompleted",
                     "ExecutionFailed"]
    last = handle.history()[-1]
    assert last.details["error"]["type"] == "redwood.errors.StepFailed"


# --- cancelling -------------------------------------------------------------------------------


def test_cancel_stops_a_waiting_execution_for_good(any_app: App, clock: ManualClock) -> None:
    handle = any_app.start(_sleeper(any_app), id="cancel-waiting")
    worker = any_app.worker()
    worker.drain()
    stopped = handle.cancel()
    assert stopped.status is ExecutionStatus.STOPPED
    assert handle.history()[-1].type == "ExecutionStopped"
    clock.advance(7200)
    assert worker.drain() == 0
    assert handle.status() is ExecutionStatus.STOPPED
    assert handle.operations()[0].status is OperationStatus.CANCELLED  # the wait never fired
    with pytest.raises(ExecutionFailed) as raised:
        handle.result(timeout=5)
    assert raised.value.status is ExecutionStatus.STOPPED


def test_cancel_of_a_finished_execution_is_a_conflict(app: App) -> None:
    handle = app.start(_counting(app, Counter()), "ada", id="done")
    app.worker().drain()
    with pytest.raises(ExecutionConflict, match='"done" already ended SUCCEEDED') as raised:
        handle.cancel()
    assert raised.value.status is ExecutionStatus.SUCCEEDED
    assert handle.status() is ExecutionStatus.SUCCEEDED
    assert handle.history()[-1].type == "ExecutionSucceeded"


def test_cancel_of_an_execution_never_claimed_stops_it_before_it_runs(app: App) -> None:
    runs: Counter[str] = Counter()
    handle = app.start(_counting(app, runs), "ada", id="never-ran")
    handle.cancel()
    assert app.worker().drain() == 0
    assert runs == {}
    assert handle.status() is ExecutionStatus.STOPPED


def test_cancel_of_a_running_execution_stops_it_at_its_next_operation(app: App) -> None:
    entered = threading.Event()
    release = threading.Event()
    runs: Counter[str] = Counter()

    def slow() -> str:
        runs["slow"] += 1
        entered.set()
        release.wait(10)
        return "slow done"

    def after() -> str:
        runs["after"] += 1
        return "after"

    @app.function
    def f(ctx: DurableContext) -> str:
        ctx.step(slow)
        return ctx.step(after)

    with app.run_worker():
        handle = app.start(f, id="cancel-running")
        assert entered.wait(10)
        requested = handle.cancel()
        assert requested.status is ExecutionStatus.RUNNING
        assert requested.cancel_requested
        release.set()
        wait_until(lambda: handle.status().finished, what="the execution to stop")
    assert handle.status() is ExecutionStatus.STOPPED
    assert runs == {"slow": 1}
    slow_op = handle.operations()[0]
    assert (slow_op.status, slow_op.result) == (OperationStatus.SUCCEEDED, '"slow done"')
    assert handle.history()[-1].type == "ExecutionStopped"


def test_cancel_during_a_retry_back_off_stops_at_once(any_app: App, clock: ManualClock) -> None:
    runs: Counter[str] = Counter()

    def down() -> None:
        runs["down"] += 1
        raise ConnectionError("down")

    @any_app.function
    def f(ctx: DurableContext) -> None:
        ctx.step(down, retry=RetryPolicy.fixed(60.0))

    handle = any_app.start(f, id="cancel-back-off")
    worker = any_app.worker()
    worker.drain()
    assert handle.cancel().status is ExecutionStatus.STOPPED
    clock.advance(600)
    assert worker.drain() == 0
    assert runs == {"down": 1}


def test_cancel_of_a_running_execution_that_then_waits_stops_without_waiting(
    app: App, clock: ManualClock
) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow() -> str:
        entered.set()
        release.wait(10)
        return "slow"

    @app.function
    def f(ctx: DurableContext) -> str:
        ctx.step(slow)
        ctx.wait(3600)
        return "too late"

    with app.run_worker():
        handle = app.start(f, id="cancel-then-wait")
        assert entered.wait(10)
        handle.cancel()
        release.set()
        wait_until(lambda: handle.status().finished, what="the execution to stop")
    assert handle.status() is ExecutionStatus.STOPPED
    assert handle.operations()[0].result == '"slow"'  # its last step's result is kept


def test_cancel_of_an_execution_whose_worker_died_stops_it_and_fences_the_worker(
    app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    handle = app.start(_counting(app, runs), "ada", id="dead-holder")
    (stale,) = app.engine.claim("dead-worker", 1, 30.0)
    clock.advance(30)
    assert handle.cancel().status is ExecutionStatus.STOPPED
    with pytest.raises(LeaseLost):
        app.engine.invoke(stale)
    assert handle.status() is ExecutionStatus.STOPPED
    assert [e.type for e in handle.history()] == ["ExecutionStarted", "ExecutionStopped"]

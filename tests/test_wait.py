"""ctx.wait: a durable timer. The execution holds nothing while it waits and resumes when due."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from redwood import (
    App,
    DurableContext,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    OperationType,
    ValidationError,
)

pytestmark = pytest.mark.every_store


def test_wait_suspends_without_holding_a_worker(any_app: App, clock: ManualClock) -> None:
    @any_app.function
    def reminder(ctx: DurableContext) -> str:
        ctx.wait(3600, name="an hour")
        return "ding"

    handle = any_app.start(reminder, id="reminder")
    worker = any_app.worker()
    assert worker.drain() == 1
    execution = handle.get()
    assert execution.status is ExecutionStatus.RUNNING
    assert execution.lease_owner is None
    assert execution.ready_at == clock.now() + 3600
    (wait,) = handle.operations()
    assert (wait.type, wait.name, wait.status) == (OperationType.WAIT, "an hour",
                                                   OperationStatus.STARTED)
    assert wait.due_at == clock.now() + 3600
    clock.advance(3599)
    assert worker.drain() == 0
    clock.advance(1)
    assert worker.drain() == 1
    assert handle.result(timeout=5) == "ding"
    assert handle.operations()[0].status is OperationStatus.SUCCEEDED


def test_wait_accepts_a_timedelta(any_app: App, clock: ManualClock) -> None:
    @any_app.function
    def f(ctx: DurableContext) -> None:
        ctx.wait(timedelta(days=3))

    handle = any_app.start(f, id="days")
    worker = any_app.worker()
    worker.drain()
    assert handle.operations()[0].due_at == clock.now() + 3 * 86400
    clock.advance(3 * 86400)
    worker.drain()
    assert handle.status() is ExecutionStatus.SUCCEEDED


def test_consecutive_waits_each_suspend_once(any_app: App, clock: ManualClock) -> None:
    marks: list[str] = []

    @any_app.function
    def f(ctx: DurableContext) -> int:
        for i in range(3):
            ctx.wait(10)
            ctx.step(marks.append, f"after wait {i}", name=f"mark-{i}")
        return len(marks)

    handle = any_app.start(f, id="waits")
    worker = any_app.worker()
    for _ in range(3):
        worker.drain()
        assert handle.status() is ExecutionStatus.RUNNING
        clock.advance(10)
    worker.drain()
    assert handle.result(timeout=5) == 3
    assert marks == ["after wait 0", "after wait 1", "after wait 2"]


BAD_DURATIONS: list[Any] = [0, -5, 0.5, math.nan, math.inf, 367 * 86400, timedelta(days=400),
                            timedelta(seconds=-1), "60", None, True]


@pytest.mark.parametrize("duration", BAD_DURATIONS, ids=repr)
def test_invalid_wait_duration_raises_and_keeps_what_was_recorded(
    any_app: App, duration: Any
) -> None:
    errors: list[ValidationError] = []

    def pay() -> str:
        return "paid"

    @any_app.function
    def f(ctx: DurableContext) -> str:
        receipt = ctx.step(pay)
        try:
            ctx.wait(duration)
        except ValidationError as error:
            errors.append(error)
            raise
        return receipt

    handle = any_app.start(f, id="bad-wait")
    any_app.worker().drain()
    (error,) = errors
    assert error.what == "ctx.wait duration"
    assert "ctx.wait duration must be" in str(error)
    assert handle.status() is ExecutionStatus.FAILED
    execution = handle.get()
    assert execution.error is not None and execution.error.type == "redwood.errors.ValidationError"
    (step,) = handle.operations()
    assert (step.name, step.status, step.result) == ("pay", OperationStatus.SUCCEEDED, '"paid"')


def test_code_that_catches_an_invalid_duration_can_wait_correctly(
    any_app: App, clock: ManualClock
) -> None:
    @any_app.function
    def f(ctx: DurableContext) -> str:
        try:
            ctx.wait(0)
        except ValidationError:
            ctx.wait(1)
        return "waited"

    handle = any_app.start(f, id="fixed-wait")
    worker = any_app.worker()
    worker.drain()
    clock.advance(1)
    worker.drain()
    assert handle.result(timeout=5) == "waited"
    assert [op.type for op in handle.operations()] == [OperationType.WAIT]


@pytest.mark.parametrize("duration", [1, 1.5, timedelta(days=366)], ids=repr)
def test_wait_accepts_durations_from_one_second_to_one_year(
    app: App, clock: ManualClock, duration: Any
) -> None:
    @app.function
    def f(ctx: DurableContext) -> None:
        ctx.wait(duration)

    handle = app.start(f, id="bounds")
    worker = app.worker()
    worker.drain()
    total = duration.total_seconds() if isinstance(duration, timedelta) else duration
    clock.advance(total)
    worker.drain()
    assert handle.status() is ExecutionStatus.SUCCEEDED


def _register_greeter(app: App, runs: Counter[str]) -> Any:
    def greet(name: str) -> str:
        runs[name] += 1
        return f"hello {name}"

    @app.function
    def greeter(ctx: DurableContext, name: str) -> list[str]:
        first = ctx.step(greet, name)
        ctx.wait(timedelta(days=30))
        return [first, ctx.step(greet, name + " again")]

    return greeter


def test_wait_survives_every_process_restarting(
    open_app: Callable[..., App], clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    before = open_app()
    before.start(_register_greeter(before, runs), "ada", id="month")
    before.worker().drain()
    before.close()

    after = open_app()
    _register_greeter(after, runs)
    worker = after.worker()
    assert worker.drain() == 0
    clock.advance(30 * 86400)
    assert worker.drain() == 1
    assert after.client.result("month", timeout=5) == ["hello ada", "hello ada again"]
    assert runs == {"ada": 1, "ada again": 1}

"""Durable polling: ctx.wait_for_condition with a WaitStrategy."""

from __future__ import annotations

from typing import Any

import pytest

from redwood import (
    App,
    AsyncDurableContext,
    ConditionNotMet,
    DurableContext,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    StepFailed,
    ValidationError,
    WaitStrategy,
)

pytestmark = pytest.mark.every_store


def drain(app: App) -> None:
    app.worker().drain()


def counter(calls: list[int]) -> Any:
    """A check that counts up, remembering each state it was called with."""

    def count_up(state: int) -> int:
        calls.append(state)
        return state + 1

    return count_up


def test_condition_met_at_the_first_check_returns_without_suspending(any_app: App) -> None:
    calls: list[int] = []

    @any_app.function
    def ready_at_once(ctx: DurableContext) -> int:
        return ctx.wait_for_condition(counter(calls), initial_state=0,
                                      strategy=WaitStrategy(until=lambda n: n >= 1))

    handle = any_app.start(ready_at_once, id="cond-now")
    drain(any_app)

    assert handle.result(timeout=5) == 1
    assert calls == [0]
    op = handle.operations()[0]
    assert (op.subtype, op.name, op.status, op.result) == \
        ("WaitForCondition", "count_up", OperationStatus.SUCCEEDED, "1")
    if not any_app.engine.settings.always_replay:
        assert handle.get().invocations == 1


def test_condition_polls_with_growing_delays_and_records_the_state_after_each_check(
    any_app: App, clock: ManualClock
) -> None:
    calls: list[int] = []

    @any_app.function
    def polls(ctx: DurableContext) -> int:
        strategy = WaitStrategy(until=lambda n: n >= 3, initial_delay=10, backoff_rate=2)
        return ctx.wait_for_condition(counter(calls), initial_state=0, strategy=strategy,
                                      name="job_done")

    handle = any_app.start(polls, id="cond-poll")
    drain(any_app)
    op = handle.operations()[0]
    assert (op.status, op.result, op.due_at) == (OperationStatus.PENDING, "1", clock.now() + 10)

    clock.advance(9)
    drain(any_app)
    assert calls == [0]
    clock.advance(1)
    drain(any_app)
    op = handle.operations()[0]
    assert (op.status, op.result, op.due_at) == (OperationStatus.PENDING, "2", clock.now() + 20)
    clock.advance(20)
    drain(any_app)

    assert handle.result(timeout=5) == 3
    assert calls == [0, 1, 2]
    history = [(e.type, e.details.get("result")) for e in handle.history()
               if e.type.startswith("Step") and e.type != "StepStarted"]
    assert history == [("StepFailed", "1"), ("StepFailed", "2"), ("StepSucceeded", "3")]
    assert all(e.subtype == "WaitForCondition" for e in handle.history()
               if e.type.startswith("Step"))


def test_condition_still_not_met_after_max_attempts_raises_condition_not_met(
    any_app: App, clock: ManualClock
) -> None:
    caught: list[list[Any]] = []

    @any_app.function
    def never_ready(ctx: DurableContext) -> list[Any]:
        strategy = WaitStrategy(until=lambda n: n > 100, initial_delay=5, max_attempts=3)
        try:
            ctx.wait_for_condition(lambda n: n + 1, initial_state=0, strategy=strategy,
                                   name="never")
        except ConditionNotMet as error:
            caught.append([error.attempts, error.last_state, error.condition])
        ctx.wait(60)
        return caught[-1]

    handle = any_app.start(never_ready, id="cond-exhausted")
    for _ in range(4):
        drain(any_app)
        clock.advance(60)
    drain(any_app)

    assert handle.result(timeout=5) == [3, "3", "never"]
    assert len(caught) >= 2 and all(entry == caught[0] for entry in caught)  # replayed alike
    op = handle.operations()[0]
    assert op.status is OperationStatus.FAILED and op.attempt == 3
    assert op.error is not None and op.error.type == "redwood.errors.ConditionNotMet"


def test_check_that_raises_fails_the_operation_with_step_failed(
    any_app: App, clock: ManualClock
) -> None:
    def broken(state: int) -> int:
        raise LookupError("status endpoint gone")

    caught: list[tuple[str, str]] = []

    @any_app.function
    def catches(ctx: DurableContext) -> list[Any]:
        try:
            ctx.wait_for_condition(broken, initial_state=0,
                                   strategy=WaitStrategy(until=lambda n: True))
        except StepFailed as error:
            assert error.matches(LookupError)
            caught.append((error.error_message, error.message))
        ctx.wait(5)
        return [caught[-1][0], len(set(caught))]

    handle = any_app.start(catches, id="cond-raises")
    drain(any_app)
    clock.advance(5)
    drain(any_app)

    assert handle.result(timeout=5) == ["status endpoint gone", 1]
    assert len(caught) == 2  # the first run and the replay raise the same error
    assert handle.operations()[0].status is OperationStatus.FAILED


def test_replay_does_not_rerun_checks(any_app: App, clock: ManualClock) -> None:
    calls: list[int] = []

    @any_app.function
    def then_waits(ctx: DurableContext) -> int:
        state = ctx.wait_for_condition(counter(calls), initial_state=5,
                                       strategy=WaitStrategy(until=lambda n: n >= 7,
                                                             initial_delay=1))
        ctx.wait(30)
        return state

    handle = any_app.start(then_waits, id="cond-replay")
    drain(any_app)
    clock.advance(1)
    drain(any_app)
    clock.advance(30)
    drain(any_app)

    assert handle.result(timeout=5) == 7
    assert calls == [5, 6]


def test_cancelling_a_polling_execution_stops_it_without_more_checks(
    app: App, clock: ManualClock
) -> None:
    calls: list[int] = []

    @app.function
    def polls_forever(ctx: DurableContext) -> int:
        return ctx.wait_for_condition(counter(calls), initial_state=0,
                                      strategy=WaitStrategy(until=lambda n: False))

    handle = app.start(polls_forever, id="cond-cancel")
    drain(app)
    handle.cancel()
    clock.advance(600)
    drain(app)

    assert handle.status() is ExecutionStatus.STOPPED
    assert calls == [0]


def test_async_condition_with_an_async_check(any_app: App, clock: ManualClock) -> None:
    seen: list[dict[str, Any]] = []

    async def poll_job(state: dict[str, Any]) -> dict[str, Any]:
        seen.append(state)
        return {"polls": state["polls"] + 1, "done": state["polls"] + 1 == 2}

    @any_app.function
    async def waits(ctx: AsyncDurableContext) -> dict[str, Any]:
        return await ctx.wait_for_condition(
            poll_job, initial_state={"polls": 0, "done": False},
            strategy=WaitStrategy(until=lambda s: s["done"], initial_delay=30))

    handle = any_app.start(waits, id="cond-async")
    drain(any_app)
    clock.advance(30)
    drain(any_app)

    assert handle.result(timeout=5) == {"polls": 2, "done": True}
    assert seen == [{"polls": 0, "done": False}, {"polls": 1, "done": False}]


def test_wait_strategy_delays_grow_by_the_backoff_rate_up_to_the_cap() -> None:
    strategy = WaitStrategy(until=bool, initial_delay=2, backoff_rate=3, max_delay=50)
    assert [strategy.delay_after(n) for n in range(1, 6)] == [2, 6, 18, 50, 50]
    assert strategy.delay_after(10_000) == 50
    jittered = WaitStrategy(until=bool, initial_delay=40, max_delay=40, jitter=0.5)
    assert all(20 <= jittered.delay_after(3) <= 40 for _ in range(200))


@pytest.mark.parametrize("settings", [
    {"initial_delay": 0},
    {"initial_delay": 10, "max_delay": 5},
    {"backoff_rate": 0.5},
    {"jitter": 2},
    {"max_attempts": 0},
    {"until": "not callable"},
])
def test_wait_strategy_rejects_invalid_settings(settings: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"until": bool, **settings}
    with pytest.raises(ValidationError, match="Invalid WaitStrategy"):
        WaitStrategy(**arguments)


def test_wait_for_condition_without_a_wait_strategy_fails_clearly(app: App) -> None:
    @app.function
    def misused(ctx: DurableContext) -> int:
        return ctx.wait_for_condition(lambda n: n, initial_state=0,
                                      strategy=lambda n: True)  # type: ignore[arg-type]

    handle = app.start(misused, id="cond-misuse")
    drain(app)
    error = handle.get().error
    assert error is not None and "strategy must be a WaitStrategy" in error.message

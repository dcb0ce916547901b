"""ctx.step: a body runs once per attempt, its result is recorded, and replay returns the record."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from redwood import (
    App,
    DurableContext,
    ExecutionFailed,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    OperationType,
    RetryPolicy,
    StepContext,
    StepFailed,
    StepSemantics,
)

pytestmark = pytest.mark.every_store


def test_replay_skips_completed_steps(any_app: App, clock: ManualClock) -> None:
    runs: Counter[str] = Counter()

    def charge(amount: int) -> str:
        runs["charge"] += 1
        return f"charged {amount}"

    def ship(receipt: str) -> str:
        runs["ship"] += 1
        return f"shipped after {receipt}"

    @any_app.function
    def order(ctx: DurableContext, amount: int) -> list[str]:
        receipt = ctx.step(charge, amount)
        ctx.wait(60)
        return [receipt, ctx.step(ship, receipt)]

    handle = any_app.start(order, 42, id="order-1")
    worker = any_app.worker()
    worker.drain()
    assert runs == {"charge": 1}
    clock.advance(60)
    worker.drain()
    assert handle.result(timeout=5) == ["charged 42", "shipped after charged 42"]
    assert runs == {"charge": 1, "ship": 1}


def test_journal_records_each_step_under_its_deterministic_id(any_app: App) -> None:
    def double(x: int) -> int:
        return 2 * x

    @any_app.function
    def twice(ctx: DurableContext, x: int) -> int:
        y = ctx.step(double, x)
        return ctx.step(double, y, name="double-again")

    handle = any_app.start(twice, 5, id="twice")
    any_app.worker().drain()
    assert handle.result(timeout=5) == 20
    journal = [(op.id, op.type, op.name, op.status, op.result) for op in handle.operations()]
    assert journal == [
        ("1", OperationType.STEP, "double", OperationStatus.SUCCEEDED, "10"),
        ("2", OperationType.STEP, "double-again", OperationStatus.SUCCEEDED, "20"),
    ]


def test_step_returns_the_same_value_on_first_run_and_on_replay(
    any_app: App, clock: ManualClock
) -> None:
    seen: list[Any] = []

    def pair():  # no return hint: plain JSON comes back
        return (1, "a")

    @any_app.function
    def f(ctx: DurableContext) -> None:
        seen.append(ctx.step(pair))
        ctx.wait(5)

    any_app.start(f, id="pair")
    worker = any_app.worker()
    worker.drain()
    clock.advance(5)
    worker.drain()
    # A tuple is stored as a JSON array: the first run sees what every replay will see.
    assert seen == [[1, "a"], [1, "a"]]


def test_recorded_step_failure_reraises_identically_on_replay(
    any_app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    caught: list[tuple[Any, ...]] = []

    def charge_card() -> None:
        runs["charge_card"] += 1
        raise ValueError("card declined")

    @any_app.function
    def checkout(ctx: DurableContext) -> str:
        try:
            ctx.step(charge_card, retry=RetryPolicy.none())
        except StepFailed as error:
            caught.append((str(error), error.step, error.attempts, error.error_type,
                           error.error_message, error.matches(ValueError),
                           error.matches(Exception), error.matches(KeyError)))
        ctx.wait(10)
        return "recovered"

    handle = any_app.start(checkout, id="checkout")
    worker = any_app.worker()
    worker.drain()
    clock.advance(10)
    worker.drain()
    assert handle.result(timeout=5) == "recovered"
    assert runs == {"charge_card": 1}
    assert len(caught) == 2
    assert caught[0] == caught[1]
    message, step, attempts, error_type, error_message, is_value, is_exception, is_key = caught[0]
    assert 'Step "charge_card" (operation #1) of execution "checkout" failed after 1 attempt' \
        in message
    assert (step, attempts, error_type, error_message) == (
        "charge_card", 1, "builtins.ValueError", "card declined")
    assert (is_value, is_exception, is_key) == (True, True, False)


def test_step_failed_matches_the_recorded_class_hierarchy(any_app: App) -> None:
    class PaymentError(LookupError):
        pass

    matches: list[bool] = []

    def pay() -> None:
        raise PaymentError("no such card")

    @any_app.function
    def f(ctx: DurableContext) -> None:
        try:
            ctx.step(pay, retry=RetryPolicy.none())
        except StepFailed as error:
            matches.extend([error.matches(PaymentError), error.matches(LookupError),
                            error.matches(KeyError), error.matches(ValueError)])
            raise

    handle = any_app.start(f, id="pay")
    any_app.worker().drain()
    assert matches == [True, True, False, False]
    with pytest.raises(ExecutionFailed) as failed:
        handle.result(timeout=5)
    assert failed.value.status is ExecutionStatus.FAILED
    assert failed.value.error_type == "redwood.errors.StepFailed"
    assert "no such card" in failed.value.error_message


def test_code_that_catches_step_failed_continues_with_later_steps(any_app: App) -> None:
    def fail() -> int:
        raise RuntimeError("down")

    def fallback() -> int:
        return 7

    @any_app.function
    def f(ctx: DurableContext) -> int:
        try:
            return ctx.step(fail, retry=RetryPolicy.none())
        except StepFailed:
            return ctx.step(fallback)

    handle = any_app.start(f, id="fallback")
    any_app.worker().drain()
    assert handle.result(timeout=5) == 7
    assert [(op.name, op.status) for op in handle.operations()] == [
        ("fail", OperationStatus.FAILED), ("fallback", OperationStatus.SUCCEEDED)]


def test_step_body_gets_a_step_context_with_its_attempt(any_app: App, clock: ManualClock) -> None:
    attempts: list[tuple[str, str, int]] = []

    def flaky(step: StepContext, word: str) -> str:
        attempts.append((step.operation_id, step.name, step.attempt))
        if step.attempt < 3:
            raise ConnectionError("blip")
        return word.upper()

    @any_app.function
    def f(ctx: DurableContext) -> str:
        return ctx.step(flaky, "ok", retry=RetryPolicy.fixed(1, max_attempts=3))

    handle = any_app.start(f, id="ctx")
    worker = any_app.worker()
    for _ in range(3):
        worker.drain()
        clock.advance(1)
    assert handle.result(timeout=5) == "OK"
    assert attempts == [("1", "flaky", 1), ("1", "flaky", 2), ("1", "flaky", 3)]


def test_unhandled_step_failure_fails_the_execution_and_keeps_earlier_results(any_app: App) -> None:
    def first() -> str:
        return "kept"

    def second() -> None:
        raise KeyError("missing")

    @any_app.function
    def f(ctx: DurableContext) -> None:
        ctx.step(first)
        ctx.step(second, retry=RetryPolicy.none())

    handle = any_app.start(f, id="fails")
    any_app.worker().drain()
    assert handle.status() is ExecutionStatus.FAILED
    first_op, second_op = handle.operations()
    assert (first_op.status, first_op.result) == (OperationStatus.SUCCEEDED, '"kept"')
    assert second_op.status is OperationStatus.FAILED
    assert second_op.error is not None and second_op.error.type == "builtins.KeyError"
    execution = handle.get()
    assert execution.error is not None and execution.error.type == "redwood.errors.StepFailed"


def test_exception_raised_by_the_function_itself_fails_the_execution(any_app: App) -> None:
    def one() -> int:
        return 1

    @any_app.function
    def f(ctx: DurableContext) -> None:
        ctx.step(one)
        raise RuntimeError("bad order")

    handle = any_app.start(f, id="raises")
    any_app.worker().drain()
    with pytest.raises(ExecutionFailed, match="RuntimeError: bad order"):
        handle.result(timeout=5)
    assert handle.operations()[0].status is OperationStatus.SUCCEEDED


def test_at_most_once_step_records_its_start_before_the_body_runs(any_app: App) -> None:
    seen_by_body: list[list[tuple[str, OperationStatus, int]]] = []

    def charge() -> str:
        seen_by_body.append([(op.id, op.status, op.attempt)
                             for op in any_app.client.operations("once")])
        return "charged"

    def plain() -> str:
        seen_by_body.append([(op.id, op.status, op.attempt)
                             for op in any_app.client.operations("once")])
        return "plain"

    @any_app.function
    def f(ctx: DurableContext) -> list[str]:
        return [ctx.step(charge, semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY),
                ctx.step(plain)]

    handle = any_app.start(f, id="once")
    any_app.worker().drain()
    assert handle.result(timeout=5) == ["charged", "plain"]
    assert seen_by_body == [
        [("1", OperationStatus.STARTED, 1)],  # durable before the body ran
        [("1", OperationStatus.SUCCEEDED, 1)],  # at least once: nothing about "2" yet
    ]


def test_at_most_once_step_retries_with_a_new_start_per_attempt(
    any_app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()

    def charge() -> str:
        runs["charge"] += 1
        if runs["charge"] == 1:
            raise ConnectionError("gateway timeout")
        return "charged"

    @any_app.function
    def f(ctx: DurableContext) -> str:
        return ctx.step(charge, semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
                        retry=RetryPolicy.fixed(5.0))

    handle = any_app.start(f, id="once-retried")
    worker = any_app.worker()
    worker.drain()
    clock.advance(5)
    worker.drain()
    assert handle.result(timeout=5) == "charged"
    steps = [(e.type, e.details.get("attempt")) for e in handle.history()
             if e.type.startswith("Step")]
    assert steps == [("StepStarted", 1), ("StepFailed", 1), ("StepStarted", 2),
                     ("StepSucceeded", 2)]

"""Retries follow the policy: attempts, back-off delays, retryable types; a back-off suspends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from redwood import (
    App,
    DurableContext,
    ExecutionFailed,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    RetryPolicy,
    SerializationError,
    ValidationError,
)

pytestmark = pytest.mark.every_store

PRESETS = {
    "none": RetryPolicy.none(),
    "default": RetryPolicy.default(),
    "transient": RetryPolicy.transient(),
    "critical": RetryPolicy.critical(),
    "fixed": RetryPolicy.fixed(3.0),
    "linear": RetryPolicy.linear(2.0),
}


def _always_failing(app: App, policy: RetryPolicy, runs: Counter[str]) -> Any:
    def call_api() -> None:
        runs["call_api"] += 1
        raise ConnectionError(f"attempt {runs['call_api']} refused")

    @app.function
    def f(ctx: DurableContext) -> None:
        ctx.step(call_api, retry=policy)

    return f


def _retry_details(app: App, execution_id: str) -> list[dict[str, Any]]:
    return [event.details["retry"] for event in app.client.history(execution_id)
            if event.type == "StepFailed" and "retry" in event.details]


def test_retries_wait_the_policy_delays_between_attempts(any_app: App, clock: ManualClock) -> None:
    policy = RetryPolicy(max_attempts=4, initial_delay=2.0, backoff_rate=3.0, max_delay=10.0,
                         jitter=0.0)
    runs: Counter[str] = Counter()
    handle = any_app.start(_always_failing(any_app, policy, runs), id="backoff")
    worker = any_app.worker()
    failed_at = []
    for expected_delay in (2.0, 6.0, 10.0):  # 2, 2*3, then capped at max_delay
        worker.drain()
        failed_at.append(clock.now())
        op = handle.operations()[0]
        assert op.status is OperationStatus.PENDING
        assert op.due_at == clock.now() + expected_delay
        clock.advance(expected_delay)
    worker.drain()
    assert runs == {"call_api": 4}
    assert _retry_details(any_app, "backoff") == [
        {"next_attempt_at": t + d, "delay": d} for t, d in zip(failed_at, (2.0, 6.0, 10.0),
                                                              strict=True)]
    with pytest.raises(ExecutionFailed, match="failed after 4 attempt"):
        handle.result(timeout=5)


def test_linear_growth_adds_the_initial_delay_each_attempt(
    any_app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    handle = any_app.start(_always_failing(any_app, RetryPolicy.linear(3.0, max_attempts=4), runs),
                       id="linear")
    worker = any_app.worker()
    for delay in (3.0, 6.0, 9.0):
        worker.drain()
        clock.advance(delay)
    worker.drain()
    assert [d["delay"] for d in _retry_details(any_app, "linear")] == [3.0, 6.0, 9.0]
    assert runs == {"call_api": 4}
    assert handle.status() is ExecutionStatus.FAILED


def test_jitter_keeps_each_delay_between_zero_and_the_policy_delay(app: App) -> None:
    policy = RetryPolicy(max_attempts=2, initial_delay=8.0, jitter=1.0)
    runs: Counter[str] = Counter()
    handle = app.start(_always_failing(app, policy, runs), id="jitter")
    app.worker().drain()
    (retry,) = _retry_details(app, "jitter")
    assert 0.0 <= retry["delay"] <= 8.0
    assert handle.operations()[0].due_at == retry["next_attempt_at"]


def test_retry_back_off_suspends_and_resumes_only_after_the_delay(
    app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    handle = app.start(_always_failing(app, RetryPolicy.fixed(30.0, max_attempts=2), runs),
                       id="suspended")
    worker = app.worker()
    assert worker.drain() == 1
    execution = handle.get()
    assert execution.status is ExecutionStatus.RUNNING
    assert execution.lease_owner is None  # no invocation holds it while it waits
    assert execution.ready_at == clock.now() + 30.0
    clock.advance(29.9)
    assert worker.drain() == 0
    assert runs == {"call_api": 1}
    clock.advance(0.1)
    assert worker.drain() == 1
    assert runs == {"call_api": 2}
    assert handle.status() is ExecutionStatus.FAILED


def test_step_succeeds_on_a_later_attempt(any_app: App, clock: ManualClock) -> None:
    runs: Counter[str] = Counter()

    def flaky() -> str:
        runs["flaky"] += 1
        if runs["flaky"] < 3:
            raise TimeoutError("slow")
        return "done"

    @any_app.function
    def f(ctx: DurableContext) -> str:
        return ctx.step(flaky, retry=RetryPolicy.fixed(5.0))

    handle = any_app.start(f, id="later")
    worker = any_app.worker()
    for _ in range(3):
        worker.drain()
        clock.advance(5.0)
    assert handle.result(timeout=5) == "done"
    assert runs == {"flaky": 3}
    op = handle.operations()[0]
    assert (op.status, op.attempt) == (OperationStatus.SUCCEEDED, 3)


def test_error_outside_retryable_types_fails_at_once(any_app: App) -> None:
    runs: Counter[str] = Counter()

    def parse() -> None:
        runs["parse"] += 1
        raise ValueError("not a number")

    @any_app.function
    def f(ctx: DurableContext) -> None:
        ctx.step(parse, retry=RetryPolicy(retryable=(ConnectionError,), jitter=0))

    handle = any_app.start(f, id="not-retryable")
    any_app.worker().drain()
    assert runs == {"parse": 1}
    assert handle.status() is ExecutionStatus.FAILED


def test_non_retryable_type_wins_over_retryable(any_app: App) -> None:
    runs: Counter[str] = Counter()

    def lookup() -> None:
        runs["lookup"] += 1
        raise KeyError("sku-9")

    @any_app.function
    def f(ctx: DurableContext) -> None:
        ctx.step(lookup, retry=RetryPolicy(retryable=(Exception,), non_retryable=(LookupError,)))

    handle = any_app.start(f, id="non-retryable")
    any_app.worker().drain()
    assert runs == {"lookup": 1}
    op = handle.operations()[0]
    assert (op.status, op.attempt) == (OperationStatus.FAILED, 1)


def test_function_retry_policy_is_the_default_of_its_steps(
    any_app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()

    def call() -> None:
        runs["call"] += 1
        raise OSError("nope")

    @any_app.function(retry=RetryPolicy.fixed(1.0, max_attempts=2))
    def f(ctx: DurableContext) -> None:
        ctx.step(call)

    handle = any_app.start(f, id="function-default")
    worker = any_app.worker()
    worker.drain()
    clock.advance(1.0)
    worker.drain()
    assert runs == {"call": 2}
    assert handle.status() is ExecutionStatus.FAILED


def test_app_default_retry_applies_without_other_policy(
    open_app: Callable[..., App],
) -> None:
    runs: Counter[str] = Counter()
    app = open_app(default_retry=RetryPolicy.none())

    def call() -> None:
        runs["call"] += 1
        raise OSError("nope")

    @app.function
    def f(ctx: DurableContext) -> None:
        ctx.step(call)

    handle = app.start(f, id="app-default")
    app.worker().drain()
    assert runs == {"call": 1}
    assert handle.status() is ExecutionStatus.FAILED


@pytest.mark.parametrize("error", [
    SerializationError("x"), ValidationError("x"),
], ids=type)
def test_misuse_errors_are_never_retried(error: Exception) -> None:
    assert not RetryPolicy(retryable=(Exception,)).decide(1, error).retry


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_is_a_valid_policy(name: str) -> None:
    policy = PRESETS[name]
    assert RetryPolicy(max_attempts=policy.max_attempts, initial_delay=policy.initial_delay,
                       backoff_rate=policy.backoff_rate, max_delay=policy.max_delay,
                       jitter=policy.jitter, growth=policy.growth) == policy
    assert not policy.decide(policy.max_attempts, RuntimeError()).retry
    if policy.max_attempts > 1:
        decision = policy.decide(1, RuntimeError())
        assert decision.retry
        assert policy.initial_delay * (1 - policy.jitter) <= decision.delay
        assert decision.delay <= policy.initial_delay
    delays = [policy.delay_before(n) for n in range(2, policy.max_attempts + 1)]
    assert delays == sorted(delays)
    assert all(d <= policy.max_delay for d in delays)


@pytest.mark.parametrize(("arguments", "field"), [
    ({"max_attempts": 0}, "max_attempts"),
    ({"initial_delay": -1}, "initial_delay"),
    ({"backoff_rate": 0.5}, "backoff_rate"),
    ({"initial_delay": 10, "max_delay": 5}, "max_delay"),
    ({"jitter": 1.5}, "jitter"),
    ({"growth": "quadratic"}, "growth"),
    ({"retryable": (ValueError, "KeyError")}, "retryable"),
    ({"non_retryable": (int,)}, "non_retryable"),
    ({"initial_delay": float("nan")}, "initial_delay"),
    ({"initial_delay": float("inf"), "max_delay": float("inf")}, "initial_delay"),
    ({"backoff_rate": float("nan")}, "backoff_rate"),
    ({"max_delay": float("nan")}, "max_delay"),
    ({"jitter": float("nan")}, "jitter"),
])
def test_invalid_retry_policy_names_the_field(arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field) as raised:
        RetryPolicy(**arguments)
    assert "RetryPolicy" in str(raised.value)
    assert any(field in problem for problem in raised.value.problems)


def test_invalid_preset_arguments_are_refused() -> None:
    with pytest.raises(ValidationError, match="max_attempts"):
        RetryPolicy.fixed(1.0, max_attempts=0)
    with pytest.raises(ValidationError, match="initial_delay"):
        RetryPolicy.linear(-2.0)


def test_zero_delay_retries_all_run_in_one_drain(app: App) -> None:
    runs: Counter[str] = Counter()
    handle = app.start(_always_failing(app, RetryPolicy.fixed(0.0, max_attempts=3), runs),
                       id="no-delay")
    assert app.worker().drain() == 3
    assert runs == {"call_api": 3}
    assert handle.status() is ExecutionStatus.FAILED

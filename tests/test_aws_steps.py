"""AWS handlers' steps on Redwood: results, retry strategies, step semantics, failures, replay."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aws_durable_execution_sdk_python import (
    DurableContext,
    InvocationError,
    RetryableSerDesError,
    StepContext,
    StepError,
    durable_execution,
    durable_step,
)
from aws_durable_execution_sdk_python.config import Duration, JitterStrategy, StepConfig, StepSemantics
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.serdes import JsonSerDes, SerDesContext

import redwood.aws
from aws_support import aws_events, drain, event_types, ops_named, run
from redwood import App, ExecutionFailed, ExecutionStatus, ManualClock, OperationStatus

NO_JITTER = JitterStrategy.NONE


def retrying(max_attempts: int, delay: int) -> StepConfig:
    return StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(
        max_attempts=max_attempts, initial_delay=Duration.from_seconds(delay),
        jitter_strategy=NO_JITTER)))


def test_steps_run_once_and_replay_their_recorded_results(aws_app: App, clock: ManualClock) -> None:
    calls: list[str] = []

    @durable_step
    def charge(step: StepContext, amount: int) -> dict[str, Any]:
        calls.append("charge")
        return {"charged": amount}

    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, Any]:
        receipt = context.step(charge(event["amount"]))
        context.wait(Duration.from_seconds(5))
        total = context.step(lambda _: receipt["charged"] * 2, name="double")
        return {"receipt": receipt, "total": total}

    redwood.aws.register(aws_app, handler, name="pay")
    handle = run(aws_app, "pay", {"amount": 21}, "pay-1")
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(5)
    drain(aws_app)
    assert handle.result(timeout=5) == {"receipt": {"charged": 21}, "total": 42}
    assert calls == ["charge"]  # replayed from the journal on the second invocation
    [step] = ops_named(handle, "charge")
    # Stored as the SDK serialized it (its tagged JSON), opaque to Redwood.
    assert (step.subtype, step.status, step.result) == (
        "Step", OperationStatus.SUCCEEDED, '{"t":"m","v":{"charged":{"t":"i","v":21}}}')
    # The SDK's hashed operation ids are stored and replayed as given.
    assert len(step.id) == 64 and all(c in "0123456789abcdef" for c in step.id)


def test_retry_strategy_backs_off_on_the_engine_clock_then_succeeds(
    aws_app: App, clock: ManualClock
) -> None:
    attempts: list[int] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        def flaky(step: StepContext) -> str:
            attempts.append(step.attempt)
            if step.attempt < 3:
                raise ConnectionError(f"gateway down (attempt {step.attempt})")
            return "paid"

        return context.step(flaky, name="flaky", config=retrying(5, 10))

    redwood.aws.register(aws_app, handler, name="flaky")
    handle = run(aws_app, "flaky", None, "flaky-1")
    [op] = ops_named(handle, "flaky")
    assert op.status is OperationStatus.PENDING and op.due_at == clock.now() + 10
    clock.advance(9)
    assert drain(aws_app) == 0  # the back-off is not over: nothing runs
    clock.advance(1)
    drain(aws_app)
    [op] = ops_named(handle, "flaky")
    assert op.status is OperationStatus.PENDING and op.due_at == clock.now() + 20
    clock.advance(20)
    drain(aws_app)
    assert handle.result(timeout=5) == "paid"
    assert attempts == [1, 2, 3]
    failed = [e for e in aws_events(aws_app, "flaky-1") if e["EventType"] == "StepFailed"]
    assert [e["StepFailedDetails"]["RetryDetails"] for e in failed] == [
        {"CurrentAttempt": 1, "NextAttemptDelaySeconds": 10},
        {"CurrentAttempt": 2, "NextAttemptDelaySeconds": 20},
    ]
    assert failed[0]["StepFailedDetails"]["Error"]["Payload"]["ErrorType"] == "ConnectionError"
    succeeded = [e for e in aws_events(aws_app, "flaky-1") if e["EventType"] == "StepSucceeded"]
    assert succeeded[0]["StepSucceededDetails"]["RetryDetails"] == {"CurrentAttempt": 3}


def test_exhausted_retries_fail_the_step_with_the_original_error(
    aws_app: App, clock: ManualClock
) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        try:
            context.step(lambda _: int("not a number"), name="parse", config=retrying(2, 1))
        except StepError as error:
            return f"{error.error_type}: {error.message}"
        return "unreachable"

    redwood.aws.register(aws_app, handler, name="parse")
    handle = run(aws_app, "parse", None, "parse-1")
    clock.advance(1)
    drain(aws_app)
    assert handle.result(timeout=5) == (
        "ValueError: invalid literal for int() with base 10: 'not a number'")
    [op] = ops_named(handle, "parse")
    assert (op.status, op.attempt, op.error and op.error.type) == (
        OperationStatus.FAILED, 2, "ValueError")


def test_an_unhandled_step_error_fails_the_execution(aws_app: App) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        return context.step(lambda _: 1 / 0, name="divide", config=retrying(1, 1))

    redwood.aws.register(aws_app, handler, name="divide")
    handle = run(aws_app, "divide", None, "divide-1")
    with pytest.raises(ExecutionFailed) as failed:
        handle.result(timeout=5)
    assert failed.value.status is ExecutionStatus.FAILED
    assert failed.value.error_type == "aws_durable_execution_sdk_python.exceptions.StepError"
    assert failed.value.error_message == "division by zero"
    assert event_types(aws_app, "divide-1") == [
        "ExecutionStarted", "StepStarted", "StepFailed", "InvocationCompleted",
        "ExecutionFailed"]


def test_at_most_once_step_interrupted_by_a_crashed_invocation_is_not_run_again(
    aws_app: App, clock: ManualClock
) -> None:
    ran: list[int] = []

    class FlakySerDes(JsonSerDes[Any]):
        """Fails to store the first result, as a network blip to an offloading serdes would."""

        def serialize(self, value: Any, context: SerDesContext) -> str:
            if len(ran) == 1:
                raise RetryableSerDesError("storage unreachable")
            return super().serialize(value, context)

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        def send_email(step: StepContext) -> str:
            ran.append(step.attempt)
            return "sent"

        config = StepConfig(step_semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY,
                            serdes=FlakySerDes(), retry_strategy=retrying(3, 5).retry_strategy)
        return context.step(send_email, name="email", config=config)

    redwood.aws.register(aws_app, handler, name="email")
    handle = run(aws_app, "email", None, "email-1")
    # The invocation crashed after the START was durable: it runs again after a back-off.
    assert handle.status() is ExecutionStatus.RUNNING
    assert ops_named(handle, "email")[0].status is OperationStatus.STARTED
    clock.advance(1)
    drain(aws_app)
    # The interrupted attempt counts as failed (never re-run); the retry strategy runs the next.
    assert ran == [1]
    clock.advance(5)
    drain(aws_app)
    assert handle.result(timeout=5) == "sent"
    assert ran == [1, 2]
    completed = [e for e in aws_events(aws_app, "email-1") if e["EventType"] ==
                 "InvocationCompleted"]
    assert "Error" in completed[0]["InvocationCompletedDetails"]
    assert all("Error" not in e["InvocationCompletedDetails"] for e in completed[1:])


def test_replay_with_changed_code_fails_with_nondeterminism(aws_app: App, clock: ManualClock) -> None:
    version = {"step": "reserve"}

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        context.step(lambda _: 1, name=version["step"])
        context.wait(Duration.from_seconds(10))
        return "done"

    redwood.aws.register(aws_app, handler, name="changing")
    handle = run(aws_app, "changing", None, "changing-1")
    version["step"] = "charge"  # the code changed while the execution waited
    clock.advance(10)
    drain(aws_app)
    with pytest.raises(ExecutionFailed) as failed:
        handle.result(timeout=5)
    assert failed.value.error_type is not None
    assert failed.value.error_type.endswith("NonDeterministicExecutionError")
    assert "name checkpoint='reserve' current='charge'" in (failed.value.error_message or "")


def test_a_handler_that_keeps_crashing_is_retried_then_fails(aws_app: App, clock: ManualClock) -> None:
    invocations: list[int] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        invocations.append(1)
        context.step(lambda _: "ok", name="before")
        # An InvocationError escapes the SDK: the invocation fails and the service retries it.
        raise InvocationError("the runtime broke")

    retry = redwood.aws.InvocationRetry(max_attempts=3, initial_delay=2, backoff_rate=2)
    redwood.aws.register(aws_app, handler, name="crashing", invocation_retry=retry)
    handle = run(aws_app, "crashing", None, "crashing-1")
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(2)
    drain(aws_app)
    clock.advance(3)
    assert drain(aws_app) == 0  # the second back-off is 4 seconds
    clock.advance(1)
    drain(aws_app)
    assert len(invocations) == 3
    with pytest.raises(ExecutionFailed) as failed:
        handle.result(timeout=5)
    assert failed.value.error_message == "the runtime broke"
    assert len(ops_named(handle, "before")) == 1


def test_replay_aware_logger_logs_each_line_once(
    aws_app: App, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        context.logger.info("starting order %s", event["order"])
        context.step(lambda _: None, name="reserve")
        context.wait(Duration.from_seconds(60))
        context.logger.info("after the wait")
        return "done"

    redwood.aws.register(aws_app, handler, name="logging")
    with caplog.at_level(logging.INFO):
        run(aws_app, "logging", {"order": 7}, "logging-1")
        clock.advance(60)
        drain(aws_app)
    lines = [r.getMessage() for r in caplog.records if r.getMessage() in
             ("starting order 7", "after the wait")]
    assert lines == ["starting order 7", "after the wait"]
    [record] = [r for r in caplog.records if r.getMessage() == "starting order 7"]
    assert record.executionArn == redwood.aws.execution_arn("logging-1", "logging")  # type: ignore[attr-defined]

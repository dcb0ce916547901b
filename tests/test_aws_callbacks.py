"""AWS handlers' waits, callbacks and conditions on Redwood, answered through Redwood's client."""

from __future__ import annotations

from typing import Any

import pytest
from aws_durable_execution_sdk_python import (
    CallbackExternalError,
    CallbackSubmitterError,
    CallbackTimeoutError,
    DurableContext,
    durable_execution,
)
from aws_durable_execution_sdk_python.config import (
    CallbackConfig,
    Duration,
    JitterStrategy,
    WaitForCallbackConfig,
)
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_durable_execution_sdk_python.types import WaitForCallbackContext
from aws_durable_execution_sdk_python.waits import (
    WaitForConditionConfig,
    WaitStrategyConfig,
    create_wait_strategy,
)

import redwood.aws
from aws_support import aws_events, drain, event_types, ops_named, run
from redwood import (
    App,
    ExecutionConflict,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    OperationType,
)


def callback_ids(handle: Any) -> list[str]:
    return [op.details["callback_id"] for op in handle.operations()
            if op.type is OperationType.CALLBACK]


def test_wait_resumes_when_the_engine_timer_fires(aws_app: App, clock: ManualClock) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        context.wait(Duration.from_hours(2), name="cool-off")
        return "woke"

    redwood.aws.register(aws_app, handler, name="sleepy")
    handle = run(aws_app, "sleepy", None, "sleepy-1")
    [wait] = ops_named(handle, "cool-off")
    assert (wait.status, wait.due_at) == (OperationStatus.STARTED, clock.now() + 7200)
    clock.advance(7199)
    assert drain(aws_app) == 0
    clock.advance(1)
    drain(aws_app)
    assert handle.result(timeout=5) == "woke"
    [started] = [e for e in aws_events(aws_app, "sleepy-1") if e["EventType"] == "WaitStarted"]
    assert started["WaitStartedDetails"]["Duration"] == 7200
    assert started["Name"] == "cool-off" and started["SubType"] == "Wait"


def test_create_callback_gets_an_engine_assigned_id_and_the_clients_answer(
    aws_app: App,
) -> None:
    handed_out: list[str] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        callback = context.create_callback(name="approval",
                                           config=CallbackConfig(timeout=Duration.from_hours(1)))
        context.step(lambda _: handed_out.append(callback.callback_id), name="notify")
        return f"answer: {callback.result()}"

    redwood.aws.register(aws_app, handler, name="approve")
    handle = run(aws_app, "approve", None, "approve-1")
    [callback_id] = callback_ids(handle)
    assert handed_out == [callback_id]  # the same id on every replay
    aws_app.client.callback_success(callback_id, {"approved": True})
    drain(aws_app)
    # Results reach AWS code as the raw payload, as SendDurableExecutionCallbackSuccess sends it.
    assert handle.result(timeout=5) == 'answer: {"approved":true}'
    with pytest.raises(ExecutionConflict, match="already ended SUCCEEDED"):
        aws_app.client.callback_success(callback_id, "twice")
    [started] = [e for e in aws_events(aws_app, "approve-1")
                 if e["EventType"] == "CallbackStarted"]
    assert started["CallbackStartedDetails"] == {"CallbackId": callback_id, "Timeout": 3600}


def test_callback_failure_raises_callback_external_error(aws_app: App) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        callback = context.create_callback(name="payment")
        try:
            return str(callback.result())
        except CallbackExternalError as error:
            return f"declined: {error.message}"

    redwood.aws.register(aws_app, handler, name="pay-cb")
    handle = run(aws_app, "pay-cb", None, "pay-cb-1")
    aws_app.client.callback_failure(callback_ids(handle)[0], "card expired", "PaymentDeclined")
    drain(aws_app)
    assert handle.result(timeout=5) == "declined: card expired"
    [failed] = [e for e in aws_events(aws_app, "pay-cb-1") if e["EventType"] == "CallbackFailed"]
    assert failed["CallbackFailedDetails"]["Error"]["Payload"] == {
        "ErrorMessage": "card expired", "ErrorType": "PaymentDeclined"}


def test_callback_timeout_and_heartbeat_timeout(aws_app: App, clock: ManualClock) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> list[str]:
        outcomes = []
        for name in ("overall", "heartbeat"):
            config = CallbackConfig(timeout=Duration.from_seconds(300),
                                    heartbeat_timeout=Duration.from_seconds(60))
            callback = context.create_callback(name=name, config=config)
            try:
                callback.result()
            except CallbackTimeoutError as error:
                outcomes.append(f"{name}: {error.message}")
        return outcomes

    redwood.aws.register(aws_app, handler, name="timeouts")
    handle = run(aws_app, "timeouts", None, "timeouts-1")
    first = callback_ids(handle)[0]
    for _ in range(5):  # heartbeats keep the first one alive until its overall timeout
        clock.advance(50)
        aws_app.client.callback_heartbeat(first)
        drain(aws_app)
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(50)
    drain(aws_app)
    clock.advance(60)  # no heartbeat for the second one
    drain(aws_app)
    assert handle.result(timeout=5) == ["overall: Callback timed out",
                                        "heartbeat: Callback timed out on heartbeat"]
    timed_out = [e["CallbackTimedOutDetails"]["Error"]["Payload"]["ErrorType"]
                 for e in aws_events(aws_app, "timeouts-1") if e["EventType"] == "CallbackTimedOut"]
    assert timed_out == ["Callback.Timeout", "Callback.Heartbeat"]


def test_wait_for_callback_runs_the_submitter_and_waits_for_the_answer(aws_app: App) -> None:
    submitted: list[str] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        def submit(callback_id: str, ctx: WaitForCallbackContext) -> None:
            submitted.append(callback_id)

        return context.wait_for_callback(submit, name="review")

    redwood.aws.register(aws_app, handler, name="review")
    handle = run(aws_app, "review", None, "review-1")
    assert submitted == callback_ids(handle)
    aws_app.client.callback_success(submitted[0], "looks good")
    drain(aws_app)
    assert handle.result(timeout=5) == '"looks good"'
    assert event_types(aws_app, "review-1") == [
        "ExecutionStarted", "ContextStarted", "CallbackStarted", "StepStarted", "StepSucceeded",
        "InvocationCompleted", "CallbackSucceeded", "ContextSucceeded", "InvocationCompleted",
        "ExecutionSucceeded"]
    [context_op] = [op for op in handle.operations() if op.type is OperationType.CONTEXT]
    assert (context_op.subtype, context_op.name) == ("WaitForCallback", "review")


def test_wait_for_callback_whose_submitter_fails(aws_app: App, clock: ManualClock) -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        def submit(callback_id: str, ctx: WaitForCallbackContext) -> None:
            raise ConnectionRefusedError("queue is down")

        config = WaitForCallbackConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(
            max_attempts=2, initial_delay=Duration.from_seconds(3),
            jitter_strategy=JitterStrategy.NONE)))
        try:
            context.wait_for_callback(submit, name="ticket", config=config)
        except CallbackSubmitterError as error:
            return f"could not submit: {error.message}"
        return "unreachable"

    redwood.aws.register(aws_app, handler, name="ticket")
    handle = run(aws_app, "ticket", None, "ticket-1")
    clock.advance(3)
    drain(aws_app)
    assert handle.result(timeout=5) == "could not submit: queue is down"


def test_wait_for_condition_polls_with_backoff_on_the_engine_clock(
    aws_app: App, clock: ManualClock
) -> None:
    checks: list[int] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> dict[str, int]:
        def check(state: dict[str, int], ctx: Any) -> dict[str, int]:
            checks.append(ctx.attempt)
            return {"polls": state["polls"] + 1}

        strategy = create_wait_strategy(WaitStrategyConfig(
            should_continue_polling=lambda state: state["polls"] < 3,
            initial_delay=Duration.from_seconds(10), backoff_rate=2,
            jitter_strategy=JitterStrategy.NONE))
        config = WaitForConditionConfig(wait_strategy=strategy, initial_state={"polls": 0})
        return context.wait_for_condition(check, config=config, name="job-done")

    redwood.aws.register(aws_app, handler, name="poller")
    handle = run(aws_app, "poller", None, "poller-1")
    [op] = ops_named(handle, "job-done")
    assert (op.subtype, op.status, op.due_at) == (
        "WaitForCondition", OperationStatus.PENDING, clock.now() + 10)
    clock.advance(10)
    drain(aws_app)
    clock.advance(19)
    assert drain(aws_app) == 0
    clock.advance(1)
    drain(aws_app)
    assert handle.result(timeout=5) == {"polls": 3}
    assert checks == [1, 2, 3]

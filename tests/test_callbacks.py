"""Callbacks: ctx.create_callback / ctx.wait_for_callback and the client's answers to them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conftest import wait_until
from redwood import (
    App,
    AsyncDurableContext,
    CallbackAlreadyCompleted,
    CallbackFailed,
    CallbackHeartbeatTimedOut,
    CallbackTimedOut,
    DurableContext,
    ExecutionConflict,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    OperationType,
    PayloadTooLarge,
    RetryPolicy,
    SerializationError,
    StepFailed,
    UnknownCallback,
    ValidationError,
)

pytestmark = pytest.mark.every_store


def drain(app: App) -> None:
    app.worker().drain()


def event_types(app: App, execution_id: str) -> list[str]:
    return [event.type for event in app.client.history(execution_id)]


def callback_op(app: App, execution_id: str) -> Any:
    return next(op for op in app.client.operations(execution_id)
                if op.type is OperationType.CALLBACK)


def waiting_callback(app: App, timeout: float | None = None,
                     heartbeat_timeout: float | None = None) -> tuple[Any, list[str]]:
    """Register a function that creates a callback and returns its result."""
    ids: list[str] = []

    @app.function(name="waits_for_answer")
    def waits_for_answer(ctx: DurableContext) -> Any:
        cb = ctx.create_callback(name="answer", timeout=timeout,
                                 heartbeat_timeout=heartbeat_timeout)
        ids.append(cb.callback_id)
        return cb.result()

    return waits_for_answer, ids


# --- create_callback ------------------------------------------------------------------------------


def test_callback_result_is_the_payload_sent_through_the_client(any_app: App) -> None:
    fn, ids = waiting_callback(any_app)
    handle = any_app.start(fn, id="cb-1")
    drain(any_app)
    assert handle.status() is ExecutionStatus.RUNNING
    op = callback_op(any_app, "cb-1")
    assert op.status is OperationStatus.STARTED
    assert op.details["callback_id"] == ids[-1]

    any_app.client.callback_success(ids[-1], {"approved": True})
    drain(any_app)

    assert handle.result(timeout=5) == {"approved": True}
    types = event_types(any_app, "cb-1")
    assert types.count("CallbackStarted") == 1 and types.count("CallbackSucceeded") == 1


def test_callback_id_is_unguessable_and_the_same_on_every_replay(any_app: App) -> None:
    fn, ids = waiting_callback(any_app)
    any_app.start(fn, id="cb-ids")
    drain(any_app)
    drain(any_app)  # nothing ready: no new invocation, no new id
    any_app.client.callback_success(ids[0], 1)
    drain(any_app)

    assert len(ids) >= 2 and len(set(ids)) == 1
    assert len(ids[0]) >= 32
    # Letters and digits only: it fits any URL, and a command line never takes it for an option
    # (a leading "-" did, one time in 32).
    assert ids[0].isalnum() and ids[0].isascii()
    other_fn, other_ids = waiting_callback_named(any_app, "second")
    any_app.start(other_fn, id="cb-ids-2")
    drain(any_app)
    assert other_ids[0] != ids[0]


def waiting_callback_named(app: App, name: str) -> tuple[Any, list[str]]:
    ids: list[str] = []

    @app.function(name=name)
    def fn(ctx: DurableContext) -> Any:
        cb = ctx.create_callback()
        ids.append(cb.callback_id)
        return cb.result()

    return fn, ids


def test_callback_failure_raises_callback_failed_which_user_code_can_catch(any_app: App) -> None:
    @any_app.function
    def handles_failure(ctx: DurableContext) -> Any:
        cb = ctx.create_callback(name="payment")
        ctx.step(lambda: None, name="announce")
        try:
            return cb.result()
        except CallbackFailed as error:
            return [error.error_type, error.error_message]

    handle = any_app.start(handles_failure, id="cb-fail")
    drain(any_app)
    any_app.client.callback_failure(callback_op(any_app, "cb-fail").details["callback_id"],
                                    "card declined", error_type="PaymentDeclined")
    drain(any_app)

    assert handle.result(timeout=5) == ["PaymentDeclined", "card declined"]
    assert callback_op(any_app, "cb-fail").status is OperationStatus.FAILED
    assert "CallbackFailed" in event_types(any_app, "cb-fail")


def test_uncaught_callback_failure_fails_the_execution(app: App) -> None:
    fn, ids = waiting_callback(app)
    handle = app.start(fn, id="cb-fail-2")
    drain(app)
    app.client.callback_failure(ids[0], "no")
    drain(app)
    execution = handle.get()
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error is not None and execution.error.type == "redwood.errors.CallbackFailed"


def test_callback_timeout_raises_callback_timed_out_in_user_code(
    any_app: App, clock: ManualClock
) -> None:
    @any_app.function
    def with_timeout(ctx: DurableContext) -> str:
        cb = ctx.create_callback(name="answer", timeout=60)
        try:
            cb.result()
        except CallbackHeartbeatTimedOut:
            return "heartbeat"
        except CallbackTimedOut:
            return "timeout"
        return "answered"

    handle = any_app.start(with_timeout, id="cb-timeout")
    drain(any_app)
    clock.advance(59)
    drain(any_app)
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(2)
    drain(any_app)

    assert handle.result(timeout=5) == "timeout"
    assert callback_op(any_app, "cb-timeout").status is OperationStatus.TIMED_OUT
    timed_out = [e for e in handle.history() if e.type == "CallbackTimedOut"]
    assert len(timed_out) == 1 and timed_out[0].details["reason"] == "timeout"


def test_heartbeat_timeout_raises_callback_heartbeat_timed_out(
    app: App, clock: ManualClock
) -> None:
    fn, _ = waiting_callback(app, timeout=3600, heartbeat_timeout=30)
    handle = app.start(fn, id="cb-hb")
    drain(app)
    clock.advance(31)
    drain(app)

    execution = handle.get()
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error is not None
    assert execution.error.type == "redwood.errors.CallbackHeartbeatTimedOut"
    assert "redwood.errors.CallbackTimedOut" in execution.error.mro


def test_heartbeats_keep_a_callback_alive_past_its_heartbeat_timeout(
    any_app: App, clock: ManualClock
) -> None:
    fn, ids = waiting_callback(any_app, timeout=3600, heartbeat_timeout=30)
    handle = any_app.start(fn, id="cb-alive")
    drain(any_app)
    for _ in range(4):
        clock.advance(20)
        any_app.client.callback_heartbeat(ids[0])
        drain(any_app)
    # 80 seconds since the callback started, far past its 30-second heartbeat timeout.
    assert handle.status() is ExecutionStatus.RUNNING
    op = callback_op(any_app, "cb-alive")
    assert op.status is OperationStatus.STARTED
    assert op.details["last_heartbeat_at"] == clock.now()

    any_app.client.callback_success(ids[0], "done")
    drain(any_app)
    assert handle.result(timeout=5) == "done"


def test_completing_a_callback_twice_is_refused_and_changes_nothing(app: App) -> None:
    fn, ids = waiting_callback(app)
    handle = app.start(fn, id="cb-twice")
    drain(app)
    app.client.callback_success(ids[0], "first")

    with pytest.raises(CallbackAlreadyCompleted, match="already SUCCEEDED"):
        app.client.callback_success(ids[0], "second")
    with pytest.raises(CallbackAlreadyCompleted):
        app.client.callback_failure(ids[0], "late failure")
    with pytest.raises(CallbackAlreadyCompleted):
        app.client.callback_heartbeat(ids[0])
    drain(app)

    assert handle.result(timeout=5) == "first"
    assert event_types(app, "cb-twice").count("CallbackSucceeded") == 1
    assert "CallbackFailed" not in event_types(app, "cb-twice")


def test_unknown_or_malformed_callback_ids_are_refused(app: App) -> None:
    with pytest.raises(UnknownCallback, match="nope"):
        app.client.callback_success("nope", 1)
    with pytest.raises(UnknownCallback):
        app.client.callback_heartbeat("nope")
    for bad in ("", "has space", 42, None):
        with pytest.raises(ValidationError, match="callback id"):
            app.client.callback_success(bad, 1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="error_type"):
        app.client.callback_failure("nope", "message", error_type="")


def test_answer_after_the_deadline_is_refused_even_before_a_worker_records_the_timeout(
    app: App, clock: ManualClock
) -> None:
    fn, ids = waiting_callback(app, timeout=60)
    handle = app.start(fn, id="cb-late")
    drain(app)
    clock.advance(60)

    with pytest.raises(CallbackAlreadyCompleted, match="timed out") as refused:
        app.client.callback_success(ids[0], "too late")
    assert refused.value.status is OperationStatus.TIMED_OUT
    drain(app)

    assert handle.get().error.type == "redwood.errors.CallbackTimedOut"  # type: ignore[union-attr]
    with pytest.raises(ExecutionConflict):
        app.client.callback_success(ids[0], "much too late")


def test_callback_of_a_finished_execution_cannot_be_answered(app: App) -> None:
    @app.function
    def hands_out_and_leaves(ctx: DurableContext) -> str:
        return ctx.create_callback().callback_id

    handle = app.start(hands_out_and_leaves, id="cb-gone")
    drain(app)
    callback_id = handle.result(timeout=5)

    # Ending the execution cancelled the callback nobody waited for; the late answer changes
    # nothing.
    assert callback_op(app, "cb-gone").status is OperationStatus.CANCELLED
    with pytest.raises(ExecutionConflict, match="already ended SUCCEEDED"):
        app.client.callback_success(callback_id, 1)
    op = callback_op(app, "cb-gone")
    assert op.status is OperationStatus.CANCELLED
    assert op.result is None


def test_cancelling_an_execution_waiting_on_a_callback_stops_it_and_refuses_answers(
    any_app: App,
) -> None:
    fn, ids = waiting_callback(any_app, timeout=600)
    handle = any_app.start(fn, id="cb-cancel")
    drain(any_app)

    handle.cancel()
    drain(any_app)

    assert handle.status() is ExecutionStatus.STOPPED
    with pytest.raises(ExecutionConflict, match="already ended STOPPED"):
        any_app.client.callback_success(ids[0], 1)
    with pytest.raises(ExecutionConflict):
        any_app.client.callback_heartbeat(ids[0])
    assert "CallbackSucceeded" not in event_types(any_app, "cb-cancel")


def test_answer_that_cannot_be_stored_is_refused_and_changes_nothing(
    open_app: Callable[..., App],
) -> None:
    app = open_app(max_payload_bytes=100)
    fn, ids = waiting_callback(app)
    handle = app.start(fn, id="cb-bad")
    drain(app)

    with pytest.raises(SerializationError, match=ids[0]):
        app.client.callback_success(ids[0], object())
    with pytest.raises(PayloadTooLarge):
        app.client.callback_success(ids[0], "x" * 200)
    with pytest.raises(PayloadTooLarge):
        app.client.callback_failure(ids[0], "x" * 200)
    assert callback_op(app, "cb-bad").status is OperationStatus.STARTED

    app.client.callback_success(ids[0], "fits")
    drain(app)
    assert handle.result(timeout=5) == "fits"
    app.close()


def test_create_callback_rejects_invalid_timeouts(app: App) -> None:
    @app.function
    def bad_timeout(ctx: DurableContext) -> None:
        ctx.create_callback(timeout=0)

    handle = app.start(bad_timeout, id="cb-invalid")
    drain(app)
    error = handle.get().error
    assert error is not None and error.type == "redwood.errors.ValidationError"
    assert "callback timeout" in error.message


def test_replay_returns_recorded_values_without_rerunning_step_bodies(any_app: App) -> None:
    runs: list[str] = []

    @any_app.function
    def before_and_after(ctx: DurableContext) -> list[Any]:
        first = ctx.step(lambda: runs.append("before") or "b", name="before")
        cb = ctx.create_callback(name="answer")
        answer = cb.result()
        last = ctx.step(lambda: runs.append("after") or "a", name="after")
        return [first, answer, last]

    handle = any_app.start(before_and_after, id="cb-replay")
    drain(any_app)
    any_app.client.callback_success(callback_op(any_app, "cb-replay").details["callback_id"], 7)
    drain(any_app)

    assert handle.result(timeout=5) == ["b", 7, "a"]
    assert runs == ["before", "after"]
    assert handle.get().invocations >= 2


# --- wait_for_callback ----------------------------------------------------------------------------


def test_wait_for_callback_runs_the_submitter_once_with_the_id_and_returns_the_answer(
    any_app: App,
) -> None:
    submitted: list[str] = []

    @any_app.function
    def approval(ctx: DurableContext) -> Any:
        return ctx.wait_for_callback(submitted.append, name="approval", timeout=3600)

    handle = any_app.start(approval, id="wfc-1")
    drain(any_app)
    assert len(submitted) == 1
    any_app.client.callback_success(submitted[0], "yes")
    drain(any_app)

    assert handle.result(timeout=5) == "yes"
    assert len(submitted) == 1
    ops = {op.id: op for op in handle.operations()}
    assert (ops["1"].type, ops["1"].subtype, ops["1"].status) == \
        (OperationType.CONTEXT, "WaitForCallback", OperationStatus.SUCCEEDED)
    assert (ops["1-1"].type, ops["1-1"].parent_id) == (OperationType.CALLBACK, "1")
    assert (ops["1-2"].type, ops["1-2"].name) == (OperationType.STEP, "approval submitter")
    history = [(e.type, e.subtype) for e in handle.history() if e.type.startswith("Context")]
    assert history == [("ContextStarted", "WaitForCallback"),
                       ("ContextSucceeded", "WaitForCallback")]


def test_callback_answered_while_its_submitter_step_still_runs_is_seen_next_invocation(
    any_app: App,
) -> None:
    @any_app.function
    def racing(ctx: DurableContext) -> Any:
        # The other system answers before the submitter step has even finished.
        return ctx.wait_for_callback(lambda callback_id: any_app.client.callback_success(
            callback_id, "early"), name="race")

    handle = any_app.start(racing, id="wfc-race")
    drain(any_app)  # runs the invocation that suspends, then the one the answer woke

    assert handle.result(timeout=5) == "early"
    assert handle.get().invocations >= 2
    assert [op.status for op in handle.operations()] == [OperationStatus.SUCCEEDED] * 3


def test_wait_for_callback_retries_its_submitter(app: App, clock: ManualClock) -> None:
    attempts: list[str] = []

    def flaky(callback_id: str) -> None:
        attempts.append(callback_id)
        if len(attempts) == 1:
            raise ConnectionError("mail server down")

    @app.function
    def submit_twice(ctx: DurableContext) -> Any:
        return ctx.wait_for_callback(flaky, name="mail", retry=RetryPolicy.fixed(5))

    handle = app.start(submit_twice, id="wfc-retry")
    drain(app)
    clock.advance(5)
    drain(app)
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    app.client.callback_success(attempts[0], "ok")
    drain(app)
    assert handle.result(timeout=5) == "ok"


def test_wait_for_callback_submitter_failure_raises_step_failed(any_app: App) -> None:
    def broken(callback_id: str) -> None:
        raise ValueError("no route to approver")

    @any_app.function
    def gives_up(ctx: DurableContext) -> list[Any]:
        try:
            ctx.wait_for_callback(broken, name="approval", retry=RetryPolicy.none())
        except StepFailed as error:
            return [error.matches(ValueError), error.step]
        return []

    handle = any_app.start(gives_up, id="wfc-broken")
    drain(any_app)

    assert handle.result(timeout=5) == [True, "approval submitter"]
    context = handle.operations()[0]
    assert context.status is OperationStatus.FAILED
    assert context.error is not None and context.error.type == "redwood.errors.StepFailed"


def test_wait_for_callback_timeout_raises_callback_timed_out_again_on_replay(
    app: App, clock: ManualClock
) -> None:
    caught: list[str] = []

    @app.function
    def times_out(ctx: DurableContext) -> str:
        try:
            ctx.wait_for_callback(lambda callback_id: None, name="slow", timeout=60)
        except CallbackTimedOut as error:
            caught.append(type(error).__name__)
        ctx.wait(10)
        return "handled"

    handle = app.start(times_out, id="wfc-timeout")
    drain(app)
    clock.advance(61)
    drain(app)
    clock.advance(10)
    drain(app)

    assert handle.result(timeout=5) == "handled"
    assert caught == ["CallbackTimedOut", "CallbackTimedOut"]  # first run, then the replay
    assert handle.operations()[0].status is OperationStatus.FAILED


def test_wait_for_callback_answered_with_failure_raises_callback_failed(any_app: App) -> None:
    submitted: list[str] = []

    @any_app.function
    def declined(ctx: DurableContext) -> list[Any]:
        try:
            ctx.wait_for_callback(submitted.append, name="charge")
        except CallbackFailed as error:
            return [error.error_type, error.error_message, error.callback_id == submitted[0]]
        return []

    handle = any_app.start(declined, id="wfc-declined")
    drain(any_app)
    any_app.client.callback_failure(submitted[0], "insufficient funds", "CardDeclined")
    drain(any_app)

    assert handle.result(timeout=5) == ["CardDeclined", "insufficient funds", True]
    context = handle.operations()[0]
    assert context.status is OperationStatus.FAILED
    assert context.error is not None and context.error.type == "redwood.errors.CallbackFailed"
    assert "ContextFailed" in event_types(any_app, "wfc-declined")


# --- async ----------------------------------------------------------------------------------------


def test_async_callback_result_and_failure(app: App) -> None:
    @app.function
    async def two_callbacks(ctx: AsyncDurableContext) -> list[Any]:
        first = await ctx.create_callback(name="first")
        second = await ctx.create_callback(name="second")
        results: list[Any] = [await first.result()]
        try:
            await second.result()
        except CallbackFailed as error:
            results.append(error.error_message)
        return results

    handle = app.start(two_callbacks, id="async-cb")
    drain(app)
    first, second = (op.details["callback_id"] for op in handle.operations())
    app.client.callback_success(first, {"n": 1})
    drain(app)
    assert handle.status() is ExecutionStatus.RUNNING
    app.client.callback_failure(second, "refused")
    drain(app)
    assert handle.result(timeout=5) == [{"n": 1}, "refused"]


def test_async_wait_for_callback_with_async_submitter(any_app: App, clock: ManualClock) -> None:
    submitted: list[str] = []

    async def submit(callback_id: str) -> None:
        submitted.append(callback_id)

    @any_app.function
    async def waits(ctx: AsyncDurableContext) -> Any:
        try:
            return await ctx.wait_for_callback(submit, name="job", heartbeat_timeout=30)
        except CallbackHeartbeatTimedOut:
            return "stalled"

    answered = any_app.start(waits, id="async-wfc-1")
    stalled = any_app.start(waits, id="async-wfc-2")
    drain(any_app)
    assert len(submitted) == 2
    callback_id = callback_op(any_app, "async-wfc-1").details["callback_id"]
    assert callback_id in submitted
    clock.advance(20)
    any_app.client.callback_heartbeat(callback_id)
    any_app.client.callback_success(callback_id, "result")
    clock.advance(20)
    drain(any_app)

    assert answered.result(timeout=5) == "result"
    assert stalled.result(timeout=5) == "stalled"


def test_answer_from_another_thread_resumes_the_execution_on_a_running_worker(app: App) -> None:
    fn, ids = waiting_callback(app)
    with app.run_worker():
        handle = app.start(fn, id="cb-threads")
        wait_until(lambda: bool(ids) and callback_op(app, "cb-threads").status
                   is OperationStatus.STARTED and handle.get().lease_owner is None,
                   what="the execution to wait on its callback")
        app.client.callback_success(ids[0], "from outside")
        assert handle.result(timeout=10) == "from outside"

"""Named events: ctx.wait_for_event and Client.send_event, with the inbox between them."""

from __future__ import annotations

from typing import Any

import pytest
from examples import approval

from redwood import (
    App,
    AsyncDurableContext,
    DurableContext,
    EventTimedOut,
    ExecutionConflict,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    SerializationError,
    UnknownExecution,
    ValidationError,
)

pytestmark = pytest.mark.every_store

THREE_DAYS = 3 * 24 * 3600


def drain(app: App) -> None:
    app.worker().drain()


def register_collector(app: App, names: list[str], timeout: float | None = None) -> Any:
    """A function that waits, in turn, for one event of each name and returns the payloads."""

    @app.function
    def collect(ctx: DurableContext) -> list[Any]:
        return [ctx.wait_for_event(name, timeout=timeout) for name in names]

    return collect


def test_wait_for_event_returns_the_payload_sent_later(any_app: App) -> None:
    handle = any_app.start(register_collector(any_app, ["go"]), id="ev-1")
    drain(any_app)
    op = handle.operations()[0]
    assert (op.subtype, op.name, op.status) == ("WaitForEvent", "go", OperationStatus.STARTED)

    any_app.client.send_event("ev-1", "go", {"n": 1})
    drain(any_app)

    assert handle.result(timeout=5) == [{"n": 1}]
    succeeded = [e for e in handle.history() if e.type == "CallbackSucceeded"]
    assert len(succeeded) == 1 and succeeded[0].subtype == "WaitForEvent"


def test_event_sent_before_the_wait_is_kept_and_taken_without_suspending(
    any_app: App, clock: ManualClock
) -> None:
    @any_app.function
    def later(ctx: DurableContext) -> Any:
        ctx.wait(60)
        return ctx.wait_for_event("go")

    handle = any_app.start(later, id="ev-early")
    drain(any_app)
    handle.send_event("go", "kept")
    drain(any_app)  # the execution sleeps on its timer; the event waits in the inbox
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(60)
    drain(any_app)

    assert handle.result(timeout=5) == "kept"
    if not any_app.engine.settings.always_replay:
        assert handle.get().invocations == 2  # the wait ended, the event was already there
    assert any_app.store.inbox("ev-early") == []


def test_events_of_one_name_are_received_in_the_order_sent_each_by_one_wait(any_app: App) -> None:
    handle = any_app.start(register_collector(any_app, ["x", "x", "x"]), id="ev-order")
    for payload in ("a", "b", "c", "d"):
        any_app.client.send_event("ev-order", "x", payload)
    drain(any_app)

    assert handle.result(timeout=5) == ["a", "b", "c"]
    assert [event.payload for event in any_app.store.inbox("ev-order")] == ['"d"']


def test_events_are_matched_by_name(any_app: App) -> None:
    handle = any_app.start(register_collector(any_app, ["second", "first"]), id="ev-names")
    any_app.client.send_event("ev-names", "first", 1)
    drain(any_app)
    assert handle.status() is ExecutionStatus.RUNNING
    any_app.client.send_event("ev-names", "second", 2)
    drain(any_app)

    assert handle.result(timeout=5) == [2, 1]


def test_event_sent_while_the_execution_runs_wakes_it_again(any_app: App) -> None:
    @any_app.function
    def sends_to_itself(ctx: DurableContext) -> list[Any]:
        ctx.step(lambda: any_app.client.send_event("ev-self", "a", 1), name="send_a")
        first = ctx.wait_for_event("a")  # reads the inbox: "a" is there
        # Sent after this invocation read the inbox: only the wake-up on release delivers it.
        ctx.step(lambda: any_app.client.send_event("ev-self", "b", 2), name="send_b")
        return [first, ctx.wait_for_event("b")]

    handle = any_app.start(sends_to_itself, id="ev-self")
    drain(any_app)

    assert handle.result(timeout=5) == [1, 2]


def test_wait_for_event_timeout_raises_event_timed_out(any_app: App, clock: ManualClock) -> None:
    @any_app.function
    def impatient(ctx: DurableContext) -> str:
        try:
            return str(ctx.wait_for_event("go", timeout=60))
        except EventTimedOut as error:
            return f"gave up on {error.event}"

    handle = any_app.start(impatient, id="ev-timeout")
    drain(any_app)
    clock.advance(60)
    drain(any_app)

    assert handle.result(timeout=5) == "gave up on go"
    assert handle.operations()[0].status is OperationStatus.TIMED_OUT
    assert [e.subtype for e in handle.history() if e.type == "CallbackTimedOut"] == ["WaitForEvent"]


def test_event_sent_before_the_deadline_wins_even_when_the_worker_runs_late(
    app: App, clock: ManualClock
) -> None:
    handle = app.start(register_collector(app, ["go"], timeout=60), id="ev-late-worker")
    drain(app)
    clock.advance(50)
    app.client.send_event("ev-late-worker", "go", "in time")
    clock.advance(50)  # no worker ran in between
    drain(app)

    assert handle.result(timeout=5) == ["in time"]


def test_event_sent_after_the_timeout_waits_for_a_later_wait(app: App, clock: ManualClock) -> None:
    @app.function
    def twice(ctx: DurableContext) -> list[Any]:
        try:
            first = ctx.wait_for_event("go", timeout=60)
        except EventTimedOut:
            first = "timed out"
        return [first, ctx.wait_for_event("go")]

    handle = app.start(twice, id="ev-after")
    drain(app)
    clock.advance(61)
    app.client.send_event("ev-after", "go", "late")
    drain(app)

    assert handle.result(timeout=5) == ["timed out", "late"]


def test_events_for_unknown_or_finished_executions_are_refused(app: App) -> None:
    with pytest.raises(UnknownExecution, match="missing"):
        app.client.send_event("missing", "go", 1)

    @app.function
    def quick(ctx: DurableContext) -> int:
        return 1

    handle = app.start(quick, id="ev-done")
    drain(app)
    assert handle.result(timeout=5) == 1
    with pytest.raises(ExecutionConflict, match="already ended SUCCEEDED"):
        app.client.send_event("ev-done", "go", 1)
    assert app.store.inbox("ev-done") == []


def test_bad_event_names_and_payloads_are_refused_and_change_nothing(app: App) -> None:
    handle = app.start(register_collector(app, ["go"]), id="ev-bad")
    drain(app)
    with pytest.raises(SerializationError, match='event "go"'):
        app.client.send_event("ev-bad", "go", object())
    for name in ("", "x" * 300, "line\nbreak", 7):
        with pytest.raises(ValidationError, match="event name"):
            app.client.send_event("ev-bad", name, 1)  # type: ignore[arg-type]
    assert app.store.inbox("ev-bad") == []
    assert handle.operations()[0].status is OperationStatus.STARTED


def test_cancelling_an_execution_waiting_for_an_event_stops_it_and_refuses_events(
    any_app: App,
) -> None:
    handle = any_app.start(register_collector(any_app, ["go"], timeout=600), id="ev-cancel")
    drain(any_app)

    handle.cancel()
    drain(any_app)

    assert handle.status() is ExecutionStatus.STOPPED
    with pytest.raises(ExecutionConflict, match="already ended STOPPED"):
        any_app.client.send_event("ev-cancel", "go", 1)


def test_replay_returns_the_received_payload_without_rerunning_steps(any_app: App) -> None:
    runs: list[str] = []

    @any_app.function
    def around(ctx: DurableContext) -> list[Any]:
        before = ctx.step(lambda: runs.append("before") or 1, name="before")
        payload = ctx.wait_for_event("go")
        ctx.wait(5)
        return [before, payload]

    handle = any_app.start(around, id="ev-replay")
    drain(any_app)
    any_app.client.send_event("ev-replay", "go", "p")
    drain(any_app)
    any_app.clock.advance(5)  # type: ignore[attr-defined]
    drain(any_app)

    assert handle.result(timeout=5) == [1, "p"]
    assert runs == ["before"]
    assert handle.get().invocations >= 3


def test_async_wait_for_event(any_app: App, clock: ManualClock) -> None:
    @any_app.function
    async def waits(ctx: AsyncDurableContext) -> list[Any]:
        got = [await ctx.wait_for_event("go")]
        try:
            await ctx.wait_for_event("never", timeout=30)
        except EventTimedOut:
            got.append("timed out")
        return got

    handle = any_app.start(waits, id="ev-async")
    any_app.client.send_event("ev-async", "go", "first")
    drain(any_app)
    clock.advance(30)
    drain(any_app)

    assert handle.result(timeout=5) == ["first", "timed out"]


# --- the reference example: a human approval with a three-day timeout -------------------------


def test_approval_example_approved_in_time(any_app: App, clock: ManualClock) -> None:
    request_approval = approval.register(any_app)
    handle = any_app.start(request_approval, {"id": "exp-1", "amount": 120}, id="approval-1")
    drain(any_app)
    clock.advance(2 * 24 * 3600)
    handle.send_event("approval", {"approved": True, "by": "dana"})
    drain(any_app)

    assert handle.result(timeout=5) == "approved by dana"
    assert [op.name for op in handle.operations() if op.type.value == "STEP"] == ["notify_approver"]


def test_approval_example_escalates_when_nobody_answers_in_three_days(
    any_app: App, clock: ManualClock
) -> None:
    request_approval = approval.register(any_app)
    handle = any_app.start(request_approval, {"id": "exp-2", "amount": 990}, id="approval-2")
    drain(any_app)
    clock.advance(THREE_DAYS - 1)
    drain(any_app)
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(1)
    drain(any_app)

    assert handle.result(timeout=5) == "escalated to finance-leads"
    steps = [op.name for op in handle.operations() if op.type.value == "STEP"]
    assert steps == ["notify_approver", "escalate"]

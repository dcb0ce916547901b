"""The store's side of the outside world: callback answers, the inbox, and their wake-ups.

Written against the Store protocol, so another store can run the same checks.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from redwood import (
    App,
    DurableContext,
    ExecutionConflict,
    LeaseLost,
    ManualClock,
    OperationStatus,
    UnknownCallback,
)
from redwood.model import Execution, Operation
from redwood.store.base import CallbackWrite, JournalWrite

pytestmark = pytest.mark.every_store


def waits(ctx: DurableContext) -> Any:
    cb = ctx.create_callback(name="answer", timeout=86400)
    return [cb.result(), ctx.wait_for_event("go")]


def waiting(app: App, execution_id: str) -> Operation:
    """Start an execution that waits on a callback (then an event); return the callback."""
    app.start(app.function(waits), id=execution_id)
    app.worker().drain()
    return app.store.operations(execution_id)[0]


def answered(app: App, execution_id: str) -> Operation:
    """An execution whose callback was answered, so that it is ready to be claimed."""
    op = waiting(app, execution_id)
    app.client.callback_success(op.details["callback_id"], 1)
    return op


def test_a_refused_answer_writes_nothing(app: App, clock: ManualClock) -> None:
    op = waiting(app, "st-refused")
    history_before = app.store.history("st-refused")

    def refuse(execution: Execution, found: Operation) -> CallbackWrite:
        assert (execution.id, found.id) == ("st-refused", op.id)
        raise ExecutionConflict("refused by the test")

    with pytest.raises(ExecutionConflict, match="refused by the test"):
        app.store.update_callback(op.details["callback_id"], clock.now(), refuse)
    assert app.store.operations("st-refused")[0] == op
    assert app.store.history("st-refused") == history_before
    with pytest.raises(UnknownCallback):
        app.store.update_callback("no-such-id", clock.now(), refuse)


def test_an_answer_makes_an_idle_execution_ready_now(app: App, clock: ManualClock) -> None:
    op = waiting(app, "st-idle")
    assert app.store.get_execution("st-idle").ready_at == op.due_at  # type: ignore[union-attr]
    clock.advance(5)

    done = replace(op, status=OperationStatus.SUCCEEDED, result="1")
    app.store.update_callback(op.details["callback_id"], clock.now(),
                              lambda execution, found: CallbackWrite(done, wake=True))

    assert app.store.get_execution("st-idle").ready_at == clock.now()  # type: ignore[union-attr]
    assert app.store.operations("st-idle")[0].status is OperationStatus.SUCCEEDED


def test_an_answer_to_a_held_execution_makes_it_ready_when_released(
    app: App, clock: ManualClock
) -> None:
    op = waiting(app, "st-held")
    # A worker claims it (as if for its timeout) and is still running when the answer comes.
    [claim] = app.store.claim("worker-a", clock.now() + 86400, 30.0, 1)
    clock.advance(5)
    done = replace(op, status=OperationStatus.SUCCEEDED, result="1")
    app.store.update_callback(op.details["callback_id"], clock.now(),
                              lambda execution, found: CallbackWrite(done, wake=True))
    assert app.store.get_execution("st-held").lease_owner == "worker-a"  # type: ignore[union-attr]

    # The holder never saw the answer and releases with nothing scheduled: still ready now.
    app.store.commit(JournalWrite("st-held", claim.lease_token, clock.now(), release=True,
                                  ready_at=None))
    assert app.store.get_execution("st-held").ready_at == clock.now()  # type: ignore[union-attr]
    assert app.store.operations("st-held")[0].status is OperationStatus.SUCCEEDED


def test_inbox_keeps_events_in_the_order_sent(app: App, clock: ManualClock) -> None:
    waiting(app, "st-inbox")
    sent = [app.store.send_event("st-inbox", name, f'"{name}"', clock.now())
            for name in ("b", "a", "b")]
    assert app.store.inbox("st-inbox") == sent
    assert [event.id for event in sent] == sorted(event.id for event in sent)


def test_events_are_consumed_only_under_the_current_lease(app: App, clock: ManualClock) -> None:
    answered(app, "st-consume")
    event = app.store.send_event("st-consume", "x", "1", clock.now())
    [claim] = app.store.claim("worker-a", clock.now(), 30.0, 1)
    [newer] = app.store.claim("worker-b", clock.now() + 31, 30.0, 1)  # worker-a's lease lapsed

    with pytest.raises(LeaseLost):
        app.store.commit(JournalWrite("st-consume", claim.lease_token, clock.now(),
                                      consumed_events=((event.id, "9"),)))
    assert app.store.inbox("st-consume") == [event]

    app.store.commit(JournalWrite("st-consume", newer.lease_token, clock.now(),
                                  consumed_events=((event.id, "9"),)))
    assert app.store.inbox("st-consume") == []
    with pytest.raises(ExecutionConflict, match="delivered to exactly one wait"):
        app.store.commit(JournalWrite("st-consume", newer.lease_token, clock.now(),
                                      consumed_events=((event.id, "10"),)))


def test_callback_ids_are_unique_across_executions(app: App, clock: ManualClock) -> None:
    first = waiting(app, "st-unique-1")
    second = answered(app, "st-unique-2")
    [claim] = app.store.claim("worker-a", clock.now(), 30.0, 10)
    assert claim.execution.id == "st-unique-2"
    clash = replace(second, id="99",
                    details={**second.details, "callback_id": first.details["callback_id"]})

    with pytest.raises(Exception, match=r"(?i)unique"):
        app.store.commit(JournalWrite("st-unique-2", claim.lease_token, clock.now(),
                                      operations=(clash,)))
    assert [op.id for op in app.store.operations("st-unique-2")] == [second.id]

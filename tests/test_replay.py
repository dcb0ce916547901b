"""Replay is checked: code that calls other operations than the journal recorded fails loudly."""

from __future__ import annotations

import contextlib
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
    NonDeterminism,
    OperationStatus,
)

pytestmark = pytest.mark.every_store

# The deployed "version" of the code below; tests flip it between invocations, as a deploy would.
STEP_NAME = {"current": "charge_card"}


def _charge() -> str:
    return "charged"


def _register(app: App, runs: Counter[str], caught: list[NonDeterminism] | None = None) -> Any:
    def reserve_stock() -> str:
        runs["reserve_stock"] += 1
        return "reserved"

    @app.function
    def order(ctx: DurableContext) -> str:
        try:
            ctx.step(_charge, name=STEP_NAME["current"])
        except NonDeterminism as error:
            if caught is None:
                raise
            caught.append(error)
            return "swallowed"  # and pretend all is well
        ctx.wait(60)
        return ctx.step(reserve_stock)

    return order


@pytest.fixture(autouse=True)
def _first_version() -> None:
    STEP_NAME["current"] = "charge_card"


def test_changed_step_name_fails_the_execution_with_non_determinism(
    any_app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    handle = any_app.start(_register(any_app, runs), id="order-42")
    worker = any_app.worker()
    worker.drain()
    STEP_NAME["current"] = "charge_card_v2"
    clock.advance(60)
    worker.drain()
    assert handle.status() is ExecutionStatus.FAILED
    error = handle.get().error
    assert error is not None and error.type == "redwood.errors.NonDeterminism"
    assert error.message == (
        'Execution "order-42", operation #1: the journal recorded step "charge_card", but the '
        'code now calls step "charge_card_v2". Durable code must call the same operations in the '
        "same order on every replay; give changed logic a new step name, guard it with "
        'ctx.patched("..."), or start new executions under a new function name.'
    )
    assert runs == {}
    # The recorded result is untouched by the failed replay.
    first = handle.operations()[0]
    assert (first.name, first.status, first.result) == ("charge_card", OperationStatus.SUCCEEDED,
                                                        '"charged"')


def test_a_different_operation_type_at_a_recorded_position_is_non_determinism(
    any_app: App, clock: ManualClock
) -> None:
    raised: list[NonDeterminism] = []

    @any_app.function
    def f(ctx: DurableContext) -> None:
        try:
            if STEP_NAME["current"] == "charge_card":
                ctx.step(_charge)
            else:
                ctx.wait(5, name="pause")
        except NonDeterminism as error:
            raised.append(error)
            raise
        ctx.wait(5)

    handle = any_app.start(f, id="kinds")
    worker = any_app.worker()
    worker.drain()
    STEP_NAME["current"] = "wait instead"
    clock.advance(5)
    worker.drain()
    (error,) = raised
    assert (error.execution_id, error.position) == ("kinds", "1")
    assert error.recorded == 'step "_charge"'
    assert error.called == 'wait "pause"'
    assert handle.status() is ExecutionStatus.FAILED


def test_code_that_catches_non_determinism_still_ends_failed(
    any_app: App, clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    caught: list[NonDeterminism] = []
    handle = any_app.start(_register(any_app, runs, caught), id="caught")
    worker = any_app.worker()
    worker.drain()
    STEP_NAME["current"] = "renamed"
    clock.advance(60)
    worker.drain()
    with pytest.raises(ExecutionFailed) as failed:
        handle.result(timeout=5)
    assert failed.value.error_type == "redwood.errors.NonDeterminism"
    assert len(caught) == 1 and caught[0].position == "1"
    assert runs == {}


def test_non_determinism_stops_every_later_operation(any_app: App, clock: ManualClock) -> None:
    later: list[str] = []

    def after() -> str:
        later.append("ran")
        return "after"

    @any_app.function
    def f(ctx: DurableContext) -> str:
        with contextlib.suppress(NonDeterminism):  # user code swallowing it changes nothing
            ctx.step(_charge, name=STEP_NAME["current"])
        ctx.wait(1)
        return ctx.step(after)

    handle = any_app.start(f, id="later")
    worker = any_app.worker()
    worker.drain()
    STEP_NAME["current"] = "other"
    clock.advance(1)
    worker.drain()
    assert later == []
    assert handle.status() is ExecutionStatus.FAILED
    assert [op.id for op in handle.operations()] == ["1", "2"]


def test_replay_from_another_app_uses_the_same_journal(
    open_app: Callable[..., App], clock: ManualClock
) -> None:
    runs: Counter[str] = Counter()
    first = open_app()
    handle = first.start(_register(first, runs), id="moved")
    first.worker().drain()
    second = open_app()
    _register(second, runs)
    clock.advance(60)
    assert second.worker().drain() == 1
    assert second.client.result(handle.id, timeout=5) == "reserved"
    assert runs == {"reserve_stock": 1}

"""Sagas: compensations run durably in reverse order on failure, then the error propagates."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from redwood import (
    App,
    AsyncDurableContext,
    DurableContext,
    ExecutionFailed,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    RetryPolicy,
    StepFailed,
)

pytestmark = pytest.mark.every_store

EXAMPLE = Path(__file__).parent.parent / "examples" / "saga_order.py"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("saga_order_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _order_app(app: App, ledger: list[str], fail_refund: int = 0) -> None:
    """reserve -> charge -> ship; shipping fails for address "nowhere"."""
    refunds = Counter[str]()

    def reserve(sku: str) -> str:
        ledger.append(f"reserve {sku}")
        return f"res-{sku}"

    def charge(amount: int) -> str:
        ledger.append(f"charge {amount}")
        return f"pay-{amount}"

    def ship(address: str) -> str:
        ledger.append(f"ship {address}")
        if address == "nowhere":
            raise ValueError("undeliverable")
        return "tracking-1"

    def refund(payment: str) -> None:
        refunds[payment] += 1
        ledger.append(f"refund {payment}")
        if refunds[payment] <= fail_refund:
            raise ConnectionError("payment service down")

    def release(reservation: str) -> None:
        ledger.append(f"release {reservation}")

    @app.function
    def order(ctx: DurableContext, address: str) -> str:
        with ctx.saga("order", retry=RetryPolicy.fixed(10, max_attempts=3)) as saga:
            reservation = ctx.step(reserve, "lamp")
            saga.add(release, reservation)
            payment = ctx.step(charge, 40)
            saga.add(refund, payment)
            return ctx.step(ship, address, retry=RetryPolicy.none())


def test_saga_that_succeeds_compensates_nothing(app: App) -> None:
    ledger: list[str] = []
    _order_app(app, ledger)
    handle = app.start("order", "Main St", id="ok")
    app.worker().drain()
    assert handle.result(timeout=5) == "tracking-1"
    assert ledger == ["reserve lamp", "charge 40", "ship Main St"]
    assert all(op.subtype != "Saga" for op in handle.operations())


def test_failure_runs_compensations_newest_first_then_reraises(app: App) -> None:
    ledger: list[str] = []
    _order_app(app, ledger)
    handle = app.start("order", "nowhere", id="bad")
    app.worker().drain()
    with pytest.raises(ExecutionFailed) as failed:
        handle.result(timeout=5)
    assert failed.value.error_type == "redwood.errors.StepFailed"  # the original error
    assert "undeliverable" in failed.value.message
    assert ledger == ["reserve lamp", "charge 40", "ship nowhere", "refund pay-40",
                      "release res-lamp"]
    ops = {op.id: op for op in handle.operations()}
    saga_op = ops["4"]
    assert (saga_op.subtype, saga_op.name, saga_op.status) == \
        ("Saga", "order", OperationStatus.SUCCEEDED)
    assert json.loads(saga_op.result or "") == {
        "error": {"type": "redwood.errors.StepFailed", "message": failed.value.error_message},
        "compensated": ["refund", "release"], "failed": [],
    }
    assert (ops["4-1"].name, ops["4-2"].name) == ("refund", "release")


def test_compensation_is_a_retried_durable_step(app: App, clock: ManualClock) -> None:
    ledger: list[str] = []
    _order_app(app, ledger, fail_refund=1)
    handle = app.start("order", "nowhere", id="retry")
    worker = app.worker()
    worker.drain()
    assert handle.status() is ExecutionStatus.RUNNING  # the refund waits for its next attempt
    clock.advance(11)
    worker.drain()
    assert handle.status() is ExecutionStatus.FAILED
    # Replays re-raised the recorded shipping failure; only the refund ran twice.
    assert Counter(ledger) == Counter({"reserve lamp": 1, "charge 40": 1, "ship nowhere": 1,
                                       "refund pay-40": 2, "release res-lamp": 1})


def test_compensation_that_fails_for_good_is_reported_after_the_others_ran(
    app: App, clock: ManualClock
) -> None:
    ledger: list[str] = []
    _order_app(app, ledger, fail_refund=99)
    handle = app.start("order", "nowhere", id="stuck")
    worker = app.worker()
    for _ in range(3):
        worker.drain()
        clock.advance(11)
    with pytest.raises(ExecutionFailed) as failed:
        handle.result(timeout=5)
    assert failed.value.error_type == "redwood.errors.CompensationFailed"
    assert "could not compensate refund" in failed.value.message
    assert "Compensated: release" in failed.value.message
    assert ledger.count("release res-lamp") == 1 and ledger.count("refund pay-40") == 3
    saga_op = next(op for op in handle.operations() if op.subtype == "Saga")
    assert saga_op.status is OperationStatus.FAILED
    assert json.loads(saga_op.result or "")["failed"] == ["refund"]


def test_replays_never_run_a_finished_compensation_again(
    open_app: Callable[..., App],
) -> None:
    app = open_app(always_replay=True)
    ledger: list[str] = []
    _order_app(app, ledger)
    handle = app.start("order", "nowhere", id="replay")
    app.worker().drain()
    assert handle.status() is ExecutionStatus.FAILED
    assert handle.get().invocations >= 5
    assert Counter(ledger) == Counter({"reserve lamp": 1, "charge 40": 1, "ship nowhere": 1,
                                       "refund pay-40": 1, "release res-lamp": 1})


def test_a_wait_inside_a_saga_is_not_a_failure(app: App, clock: ManualClock) -> None:
    undone: list[str] = []

    @app.function
    def flow(ctx: DurableContext) -> str:
        with ctx.saga() as saga:
            ctx.step(lambda: "booked", name="book")
            saga.add(lambda: undone.append("unbook"), name="unbook")
            ctx.wait(60)
        return "kept"

    handle = app.start(flow, id="w")
    worker = app.worker()
    worker.drain()
    clock.advance(61)
    worker.drain()
    assert handle.result(timeout=5) == "kept"
    assert undone == []


def test_caught_saga_failure_reports_what_was_undone(app: App) -> None:
    @app.function
    def flow(ctx: DurableContext) -> dict[str, Any]:
        try:
            with ctx.saga("trip") as saga:
                saga.add(lambda: None, name="cancel hotel")
                saga.add(lambda: None, name="cancel flight")
                ctx.step(lambda: 1 / 0, name="car", retry=RetryPolicy.none())
        except StepFailed as error:
            return {"error": error.error_type, "undone": saga.compensated}
        return {}

    handle = app.start(flow, id="trip")
    app.worker().drain()
    assert handle.result(timeout=5) == {"error": "builtins.ZeroDivisionError",
                                        "undone": ["cancel flight", "cancel hotel"]}


def test_async_saga_runs_async_compensations(app: App) -> None:
    undone: list[str] = []

    async def unreserve(seat: str) -> None:
        undone.append(seat)

    @app.function
    async def flow(ctx: AsyncDurableContext) -> list[str]:
        try:
            async with ctx.saga("seats") as saga:
                for seat in ("1A", "1B"):
                    async def reserve(s: str = seat) -> str:
                        return s
                    saga.add(unreserve, await ctx.step(reserve, name=f"reserve {seat}"))
                raise RuntimeError("payment refused")
        except RuntimeError:
            return saga.compensated

    handle = app.start(flow, id="a")
    app.worker().drain()
    assert handle.result(timeout=5) == ["unreserve", "unreserve"]
    assert undone == ["1B", "1A"]


@pytest.mark.parametrize("always_replay", [False, True])
def test_saga_order_example(tmp_path: Path, always_replay: bool) -> None:
    example = _example()
    shipped, cancelled = example.main(tmp_path / "saga.db", always_replay=always_replay)
    assert shipped == {"status": "shipped", "tracking": "tracking-A1"}
    assert cancelled == {"status": "cancelled", "reason": "no carrier delivers to 'nowhere'",
                         "undone": ["refund_payment", "release_inventory"]}
    assert example.LEDGER.count("refunded payment-B2") == 1
    assert example.LEDGER.count("released reservation-B2") == 1
    assert "refunded payment-A1" not in example.LEDGER


def test_cancelling_during_a_saga_stops_without_compensating(app: App) -> None:
    undone: list[str] = []

    @app.function
    def flow(ctx: DurableContext) -> None:
        with ctx.saga() as saga:
            ctx.step(lambda: "held", name="hold")
            saga.add(lambda: undone.append("release"), name="release")
            ctx.wait(3600)

    handle = app.start(flow, id="c")
    app.worker().drain()
    handle.cancel()
    assert handle.status() is ExecutionStatus.STOPPED
    assert undone == []
    assert all(op.subtype != "Saga" for op in handle.operations())


def test_timeout_during_a_compensation_retry_ends_the_execution(
    app: App, clock: ManualClock
) -> None:
    @app.function(timeout=60)
    def flow(ctx: DurableContext) -> None:
        with ctx.saga(retry=RetryPolicy.fixed(300, max_attempts=3)) as saga:
            saga.add(_refuse, name="refund")
            raise RuntimeError("ship failed")

    handle = app.start(flow, id="t")
    worker = app.worker()
    worker.drain()
    clock.advance(61)  # before the compensation's next attempt at 300 s
    worker.drain()
    assert handle.status() is ExecutionStatus.TIMED_OUT
    statuses = {op.name: op.status for op in handle.operations()}
    assert statuses == {"saga": OperationStatus.CANCELLED, "refund": OperationStatus.CANCELLED}


def _refuse() -> None:
    raise ConnectionError("refund service down")

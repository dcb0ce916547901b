"""Order processing as a durable function.

``process_order`` validates an order, reserves inventory, charges a flaky payment gateway (it
declines about half the attempts; the step retries every second), waits a 2-second cooling-off
period, and sends the confirmation. Every step body appends one line to the effect log named by
$ORDERS_EFFECT_LOG, so a demo can prove which bodies ran, how often, and in which process.

Run a worker for it with ``redwood worker examples.orders:create_app -d orders.db``.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from redwood import App, DurableContext, RetryPolicy, StepContext
from redwood.clock import Clock

EFFECT_LOG_VARIABLE = "ORDERS_EFFECT_LOG"
COOLING_OFF_SECONDS = 2
# The gateway's failures are pseudo-random but seeded by order id and attempt, so every run of
# the demo tells the same story.
DECLINE_RATE = 0.5
PAYMENT_RETRY = RetryPolicy.fixed(1.0, max_attempts=6)


class Item(BaseModel):
    """One line of an order."""

    sku: str
    quantity: int = Field(gt=0)
    unit_price_cents: int = Field(ge=0)


class Order(BaseModel):
    """What the customer asked for."""

    order_id: str
    customer: str
    items: list[Item]

    @property
    def total_cents(self) -> int:
        """The amount to charge."""
        return sum(item.quantity * item.unit_price_cents for item in self.items)


class Receipt(BaseModel):
    """What the customer gets once the order went through."""

    order_id: str
    reservation_id: str
    charge_id: str
    amount_cents: int
    confirmation_id: str


class InvalidOrder(Exception):
    """The order cannot be processed as given; no retry will change that."""


class PaymentDeclined(Exception):
    """The gateway said no this time; another attempt may succeed."""


# --- the effect log: proof of what ran ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Effect:
    """One step body run, as the effect log recorded it."""

    step: str
    order_id: str
    attempt: int
    pid: int
    outcome: str
    ok: bool
    at: float


def record_effect(step: str, order_id: str, attempt: int, outcome: str, ok: bool = True) -> None:
    """Append one line to the effect log (nothing when $ORDERS_EFFECT_LOG is unset)."""
    path = os.environ.get(EFFECT_LOG_VARIABLE)
    if not path:
        return
    line = json.dumps({"step": step, "order_id": order_id, "attempt": attempt,
                       "pid": os.getpid(), "outcome": outcome, "ok": ok, "at": time.time()})
    with open(path, "a", encoding="utf-8") as log:
        log.write(line + "\n")


def read_effects(path: Path, order_id: str | None = None) -> list[Effect]:
    """Every recorded step body run (of one order, when given), in the order they happened."""
    if not path.exists():
        return []
    effects = [Effect(**json.loads(line)) for line in path.read_text().splitlines() if line]
    return [e for e in effects if order_id is None or e.order_id == order_id]


# --- the steps -----------------------------------------------------------------------------------


def validate_order(step: StepContext, order: Order) -> int:
    """Check the order and return the amount to charge, in cents."""
    if not order.items:
        record_effect("validate", order.order_id, step.attempt, "rejected: no items", ok=False)
        raise InvalidOrder(f'Order "{order.order_id}" has no items.')
    record_effect("validate", order.order_id, step.attempt, f"total {order.total_cents}")
    return order.total_cents


def reserve_inventory(step: StepContext, order: Order) -> str:
    """Hold the stock for the order; returns the reservation id."""
    reservation_id = f"rsv-{order.order_id}"
    units = sum(item.quantity for item in order.items)
    noun = "unit" if units == 1 else "units"
    record_effect("reserve", order.order_id, step.attempt, f"{units} {noun} as {reservation_id}")
    return reservation_id


def charge_payment(step: StepContext, order: Order, amount_cents: int) -> str:
    """Charge the customer through the flaky gateway; returns the charge id."""
    if random.Random(f"{order.order_id}:{step.attempt}").random() < DECLINE_RATE:
        record_effect("charge", order.order_id, step.attempt, "declined", ok=False)
        raise PaymentDeclined(f"gateway declined attempt {step.attempt} (try again)")
    charge_id = f"ch-{order.order_id}-{step.attempt}"
    record_effect("charge", order.order_id, step.attempt, f"charged {amount_cents} as {charge_id}")
    return charge_id


def send_confirmation(step: StepContext, order: Order, charge_id: str) -> str:
    """Email the customer; returns the message id."""
    confirmation_id = f"msg-{order.order_id}"
    record_effect("confirm", order.order_id, step.attempt, f"emailed {order.customer}")
    return confirmation_id


# --- the durable function ------------------------------------------------------------------------


def process_order(ctx: DurableContext, order: Order) -> Receipt:
    """Validate, reserve, charge (retrying declines), cool off, confirm."""
    amount = ctx.step(validate_order, order, name="validate", retry=RetryPolicy.none())
    reservation_id = ctx.step(reserve_inventory, order, name="reserve")
    charge_id = ctx.step(charge_payment, order, amount, name="charge", retry=PAYMENT_RETRY)
    ctx.wait(COOLING_OFF_SECONDS, name="cooling-off")
    confirmation_id = ctx.step(send_confirmation, order, charge_id, name="confirm")
    return Receipt(order_id=order.order_id, reservation_id=reservation_id, charge_id=charge_id,
                   amount_cents=amount, confirmation_id=confirmation_id)


def create_app(database: str | Path | None = None, clock: Clock | None = None) -> App:
    """The order app over ``database`` (default: $REDWOOD_DATABASE_URL, else ./redwood.db)."""
    app = App(database, clock=clock)
    app.function(process_order)
    return app

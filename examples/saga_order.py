"""An order as a saga: reserve inventory, charge the payment, ship. When shipping fails, the
payment is refunded and the inventory released (in that order: newest first), each as a
durable, retried step; then the order reports what was undone.

    python -m examples.saga_order
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from redwood import App, DurableContext, RetryPolicy, StepFailed

# Stands in for the outside systems the steps talk to.
LEDGER: list[str] = []


def reserve_inventory(order: dict[str, Any]) -> str:
    LEDGER.append(f"reserved {order['sku']}")
    return f"reservation-{order['id']}"


def charge_payment(order: dict[str, Any]) -> str:
    LEDGER.append(f"charged {order['amount']}")
    return f"payment-{order['id']}"


def ship(order: dict[str, Any]) -> str:
    if order["address"] == "nowhere":
        raise ValueError("no carrier delivers to 'nowhere'")
    LEDGER.append(f"shipped {order['id']}")
    return f"tracking-{order['id']}"


def refund_payment(payment: str) -> None:
    LEDGER.append(f"refunded {payment}")


def release_inventory(reservation: str) -> None:
    LEDGER.append(f"released {reservation}")


def register(app: App) -> None:
    """Add the order function to ``app``."""

    @app.function
    def place_order(ctx: DurableContext, order: dict[str, Any]) -> dict[str, Any]:
        try:
            with ctx.saga("order") as saga:
                reservation = ctx.step(reserve_inventory, order)
                saga.add(release_inventory, reservation)
                payment = ctx.step(charge_payment, order)
                saga.add(refund_payment, payment)
                tracking = ctx.step(ship, order, retry=RetryPolicy.none())
        except StepFailed as error:
            return {"status": "cancelled", "reason": error.error_message,
                    "undone": saga.compensated}
        return {"status": "shipped", "tracking": tracking}


def main(database: str | Path | None = None, always_replay: bool = False) -> list[Any]:
    """Place one order that ships and one that cannot; print and return both outcomes."""
    database = database or Path(tempfile.mkdtemp()) / "saga-order.db"
    with App(database, always_replay=always_replay) as app:
        register(app)
        orders = [{"id": "A1", "sku": "lamp", "amount": 40, "address": "Main St 1"},
                  {"id": "B2", "sku": "desk", "amount": 300, "address": "nowhere"}]
        with app.run_worker():
            handles = [app.start("place_order", order, id=f"order-{order['id']}")
                       for order in orders]
            outcomes = [handle.result(timeout=30) for handle in handles]
    for outcome in outcomes:
        print(outcome)
    return outcomes


if __name__ == "__main__":
    main()

"""Always-replay mode (App(always_replay=True)) suspends and replays after every step: the same
functions must give the same results and journals as in the usual mode, with every body run once.

Most other test files also run their examples in both modes through the ``any_app`` fixture."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from redwood import (
    App,
    AsyncDurableContext,
    DurableContext,
    ExecutionHandle,
    ManualClock,
    RetryPolicy,
    StepFailed,
)

Example = Callable[[App, Counter[str]], Any]


def _orders(app: App, runs: Counter[str]) -> Any:
    def price(sku: str) -> int:
        runs[f"price {sku}"] += 1
        return len(sku) * 10

    def flaky_tax(total: int) -> int:
        runs["tax"] += 1
        if runs["tax"] < 2:
            raise ConnectionError("tax service down")
        return total // 10

    def refuse() -> None:
        runs["refuse"] += 1
        raise PermissionError("no")

    @app.function
    def orders(ctx: DurableContext, skus: list[str]) -> dict[str, Any]:
        started = ctx.now()
        total = sum(ctx.step(price, sku, name=f"price-{sku}") for sku in skus)
        ctx.wait(30)
        tax = ctx.step(flaky_tax, total, retry=RetryPolicy.fixed(5.0))
        try:
            ctx.step(refuse, retry=RetryPolicy.none())
            refused = "no"
        except StepFailed as error:
            refused = error.error_type
        discounted = ctx.patched("discount") and ctx.step(price, "discount", name="discount") > 0
        return {"total": total, "tax": tax, "refused": refused, "discount": discounted,
                "started": started}

    return orders


def _async_orders(app: App, runs: Counter[str]) -> Any:
    async def fetch(n: int) -> int:
        runs[f"fetch {n}"] += 1
        return n * n

    def plain(n: int) -> int:
        runs[f"plain {n}"] += 1
        return n + 1

    @app.function
    async def async_orders(ctx: AsyncDurableContext, n: int) -> list[int]:
        values = [await ctx.step(fetch, i, name=f"fetch-{i}") for i in range(n)]
        await ctx.wait(10)
        values.append(await ctx.step(plain, sum(values)))
        return values

    return async_orders


EXAMPLES: dict[str, tuple[Example, Any]] = {
    "sync": (_orders, ["ab", "cde", "f"]),
    "async": (_async_orders, 4),
}


def _run_to_end(app: App, clock: ManualClock, handle: ExecutionHandle[Any]) -> Any:
    worker = app.worker()
    for _ in range(20):
        worker.drain()
        if handle.status().finished:
            return handle.result(timeout=5)
        clock.advance(30)
    raise AssertionError(f"{handle.id} did not finish")


def _journal(handle: ExecutionHandle[Any]) -> list[tuple[Any, ...]]:
    return [(op.id, op.type, op.subtype, op.name, op.status, op.attempt,
             op.result if op.subtype != "now" else "<time>",
             op.error.type if op.error else None) for op in handle.operations()]


@pytest.mark.parametrize("example", sorted(EXAMPLES))
def test_always_replay_gives_the_same_result_and_journal(tmp_path: Path, example: str) -> None:
    register, payload = EXAMPLES[example]
    outcomes = []
    for always in (False, True):
        clock = ManualClock()
        runs: Counter[str] = Counter()
        with App(tmp_path / f"{always}.db", clock=clock, always_replay=always) as app:
            handle = app.start(register(app, runs), payload, id="example")
            result = _run_to_end(app, clock, handle)
            outcomes.append((result, _journal(handle), runs, handle.get().invocations))
    (usual, usual_journal, usual_runs, usual_invocations), (replayed, journal, runs, invocations) \
        = outcomes
    assert replayed == usual
    assert journal == usual_journal
    assert runs == usual_runs  # every body ran as often in both modes
    assert invocations > usual_invocations


def test_every_step_ends_the_invocation(db_path: Path, clock: ManualClock) -> None:
    runs: Counter[str] = Counter()
    with App(db_path, clock=clock, always_replay=True) as app:

        def add(a: int, b: int) -> int:
            runs["add"] += 1
            return a + b

        @app.function
        def sum_to(ctx: DurableContext, n: int) -> int:
            total = 0
            for i in range(1, n + 1):
                total = ctx.step(add, total, i, name=f"add-{i}")
            return total

        handle = app.start(sum_to, 5, id="sum")
        assert app.worker().drain() == 6  # one invocation per step, and one to return
        assert handle.result(timeout=5) == 15
        assert runs == {"add": 5}
        endings = [e.details["ending"] for e in handle.history()
                   if e.type == "InvocationCompleted"]
        assert endings == ["SUSPENDED"] * 5 + ["SUCCEEDED"]

"""Fan-out over a list inside a durable function, as the W2 pipeline does it: ``ctx.map`` with
one durable step per item, results in item order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from redwood import DurableContext

T = TypeVar("T")
R = TypeVar("R")

MODE = "map"


def each(ctx: DurableContext, fn: Callable[[T], R], items: Sequence[T], name: str) -> list[R]:
    """``fn(item)`` as a durable step for every item, concurrently, results in item order."""

    def iteration(branch: DurableContext, item: T) -> R:
        return branch.step(fn, item, name=name)

    batch = ctx.map(items, iteration, name=name)
    batch.throw_if_error()
    return batch.get_results()

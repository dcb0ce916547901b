"""Fan-out over a list inside a durable function: ``ctx.map`` when this build has it, else one
step per item in sequence (labelled, so no figure passes one off as the other).

``ctx.map`` is being written on another branch; when it lands, only ``_by_map`` may need its
call adjusted to the final signature.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from redwood import DurableContext

T = TypeVar("T")
R = TypeVar("R")

MAP_AVAILABLE = callable(getattr(DurableContext, "map", None))
MODE = "map" if MAP_AVAILABLE else "sequential (map pending)"


def each(ctx: DurableContext, fn: Callable[..., R], items: Sequence[T], name: str) -> list[R]:
    """``fn(item)`` (or ``fn(step_context, item)``) as a durable step for every item, results
    in item order."""
    if MAP_AVAILABLE:
        return _by_map(ctx, fn, items, name)
    return [ctx.step(fn, item, name=name) for item in items]


def _by_map(ctx: DurableContext, fn: Callable[..., R], items: Sequence[T], name: str) -> list[R]:
    def iteration(branch: DurableContext, item: T, *_: Any) -> R:
        return branch.step(fn, item, name=name)

    map_ = ctx.map  # type: ignore[attr-defined]
    first = next(iter(inspect.signature(map_).parameters))
    by_fn_first = first in ("fn", "func", "function")
    result = map_(iteration, items) if by_fn_first else map_(items, iteration)
    results = getattr(result, "get_results", None)
    return list(results() if callable(results) else result)

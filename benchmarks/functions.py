"""The standard workloads as Redwood durable functions (W1 sync and async, W2, W3)."""

from __future__ import annotations

import hashlib
from typing import Any

from benchmarks import fanout
from redwood import App, AsyncDurableContext, DurableContext, DurableFunction

STEPS = 10
CHUNKS = 10


def bump(x: int) -> int:
    """The trivial step: one addition."""
    return x + 1


def ten_steps(ctx: DurableContext, x: int) -> int:
    """W1: ten sequential trivial steps."""
    for _ in range(STEPS):
        x = ctx.step(bump, x)
    return x


async def bump_async(x: int) -> int:
    """The trivial step, as a coroutine (an async function's idiomatic step)."""
    return x + 1


async def ten_steps_async(ctx: AsyncDurableContext, x: int) -> int:
    """W1, async: ten trivial async steps awaited."""
    for _ in range(STEPS):
        x = await ctx.step(bump_async, x)
    return x


def add(value: int, delta: int) -> int:
    """A counter update."""
    return value + delta


def read(value: int) -> int:
    """A counter read."""
    return value


def counter(ctx: DurableContext) -> int:
    """W3: increment 1, increment 2, read, decrement 1 -> 2."""
    value = ctx.step(add, 0, 1, name="increment")
    value = ctx.step(add, value, 2, name="increment")
    seen = ctx.step(read, value, name="read")
    return ctx.step(add, seen, -1, name="decrement")


def validate(video: dict[str, Any]) -> dict[str, Any]:
    """W2: check the metadata."""
    if video["frames"] <= 0:
        raise ValueError(f"video {video['name']!r} has no frames")
    return video


def split(video: dict[str, Any]) -> list[dict[str, int]]:
    """W2: cut the frames into CHUNKS ranges."""
    size = video["frames"] // CHUNKS
    return [{"index": i, "first": i * size, "frames": size} for i in range(CHUNKS)]


def encode(chunk: dict[str, int]) -> str:
    """W2: the trivial encode, a hash of the chunk's range."""
    return hashlib.sha256(repr(sorted(chunk.items())).encode()).hexdigest()[:16]


def assemble(parts: list[str]) -> str:
    """W2: join the encoded chunks."""
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]


def pipeline(ctx: DurableContext, video: dict[str, Any]) -> str:
    """W2: validate, split into chunks, encode each, assemble."""
    meta = ctx.step(validate, video)
    chunks = ctx.step(split, meta)
    parts = fanout.each(ctx, encode, chunks, name="encode")
    return ctx.step(assemble, parts)


VIDEO = {"name": "bench.mp4", "frames": 3000}
PIPELINE_RESULT = assemble([encode(chunk) for chunk in split(VIDEO)])


class Functions:
    """The workloads registered on one app."""

    def __init__(self, app: App) -> None:
        self.ten_steps: DurableFunction[int, int] = app.function(ten_steps)
        self.ten_steps_async: DurableFunction[int, int] = app.function(ten_steps_async)
        self.counter: DurableFunction[None, int] = app.function(counter)
        self.pipeline: DurableFunction[dict[str, Any], str] = app.function(pipeline)

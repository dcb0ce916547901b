"""Durable functions the command-line tests run, in-process and in a real worker process."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pydantic import BaseModel

from redwood import App, DurableContext, RetryPolicy, StepContext
from redwood.clock import Clock


class Item(BaseModel):
    """What a customer orders."""

    sku: str
    quantity: int


class FlakyError(Exception):
    """The first attempt of ``flaky`` always fails with this."""


def price(item: Item) -> int:
    """Three per unit."""
    return 3 * item.quantity


def flaky(step: StepContext, value: int) -> int:
    """Fails on its first attempt, succeeds after."""
    if step.attempt == 1:
        raise FlakyError(f"attempt {step.attempt} of {step.name} failed")
    return value + 1


def checkout(ctx: DurableContext, item: Item) -> dict[str, int | str]:
    """Price the item, retry a flaky step once, wait a minute, and total up."""
    total = ctx.step(price, item)
    bumped = ctx.step(flaky, total, retry=RetryPolicy.fixed(1.0, max_attempts=3))
    ctx.wait(60, name="cooling-off")
    return {"sku": item.sku, "total": bumped}


def add(total: int, index: int) -> int:
    """One small step."""
    return total + index


def many_steps(ctx: DurableContext, count: int) -> int:
    """``count`` small steps in a row: 0 + 1 + ... + (count - 1)."""
    total = 0
    for index in range(count):
        total = ctx.step(add, total, index, name=f"add-{index}")
    return total


def broken(ctx: DurableContext) -> None:
    """Fails at once, with no retries."""
    ctx.step(_explode, retry=RetryPolicy.none())


def _explode() -> None:
    raise RuntimeError("the warehouse is on fire")


def quick(ctx: DurableContext, name: str) -> str:
    """One step: a greeting."""
    return ctx.step(lambda: f"hello {name}", name="greet")


def wait_for_file(path: str) -> str:
    """Mark that the step started, then block until ``path`` exists (at most 30 s)."""
    Path(path + ".started").touch()
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        # The step stands for slow work that the test finishes by creating the file.
        time.sleep(0.01)
    return "opened"


def note(text: str) -> str:
    """A step that just returns its input."""
    return text


def gated(ctx: DurableContext, path: str) -> str:
    """A step that runs until the test lets it finish, then two quick ones."""
    ctx.step(wait_for_file, path, name="gate", retry=RetryPolicy.none())
    ctx.step(note, "after", name="after")
    return ctx.step(note, "last", name="last")


def create_app(database: str | None = None, clock: Clock | None = None) -> App:
    """An app with every function above (the database defaults to $REDWOOD_DATABASE_URL)."""
    app = App(database, clock=clock)
    for fn in (checkout, many_steps, broken, quick, gated):
        app.function(fn)
    return app

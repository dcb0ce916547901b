"""Fixtures of the server tests: durable functions of the kinds the dashboard shows, the ASGI
application over the test app (real SQLite file, manual clock), and an HTTP client on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from conftest import wait_until
from redwood import App, DurableContext, RetryPolicy
from redwood.engine.registry import DurableFunction
from redwood.server import create_app
from server.server_support import TOKEN


@dataclass
class Functions:
    """The durable functions registered on the test app."""

    order: DurableFunction[Any, Any]
    sleeper: DurableFunction[Any, Any]
    echo: DurableFunction[Any, Any]
    broken: DurableFunction[Any, Any]
    failures: dict[str, int]


@pytest.fixture
def functions(app: App) -> Functions:
    failures = {"charge": 2}

    def charge(amount: int) -> int:
        if failures["charge"] > 0:
            failures["charge"] -= 1
            raise ConnectionError("card network unreachable")
        return amount

    @app.function
    def order(ctx: DurableContext, payload: dict[str, Any]) -> int:
        ctx.step(lambda: "reserved", name="reserve")
        paid = ctx.step(charge, 42, name="charge",
                        retry=RetryPolicy(max_attempts=5, initial_delay=5, jitter=0))
        ctx.wait(60, name="cool_down")
        return paid

    @app.function
    def sleeper(ctx: DurableContext) -> str:
        ctx.wait(3600, name="nap")
        return "rested"

    @app.function
    def echo(ctx: DurableContext, value: Any) -> Any:
        return value

    @app.function
    def broken(ctx: DurableContext) -> None:
        ctx.step(_explode, name="explode", retry=RetryPolicy(max_attempts=1))

    return Functions(order, sleeper, echo, broken, failures)


def _explode() -> None:
    raise ValueError("the <b>widget</b> exploded")


@pytest.fixture
def api(app: App, functions: Functions) -> Iterator[TestClient]:
    """The server over the test app, open on loopback (no token)."""
    with TestClient(create_app(app), base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
def secured(app: App, functions: Functions) -> Iterator[TestClient]:
    """The server over the test app with a token, as if bound beyond loopback."""
    server = create_app(app, token=TOKEN, host="0.0.0.0")
    with TestClient(server, base_url="http://redwood.internal:8233") as client:
        yield client


@pytest.fixture
def until() -> Callable[..., None]:
    """wait_until: poll a predicate with a deadline (no fixed sleeps)."""
    return wait_until

"""``App``: owns the store, the registry, the clock and the settings. No global singleton."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, overload

from redwood.client import Client, ExecutionHandle
from redwood.clock import Clock, SystemClock
from redwood.durations import Duration
from redwood.engine.engine import Engine, Settings
from redwood.engine.registry import DurableFunction, Registry
from redwood.engine.worker import Worker
from redwood.errors import ValidationError
from redwood.retry import RetryPolicy
from redwood.sdk.context import AsyncDurableContext, DurableContext
from redwood.store.base import Store
from redwood.store.open import open_store
from redwood.types import Durability

I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


class App:
    """A Redwood application: durable functions, where they are stored, and how they run."""

    def __init__(
        self, database: str | Path | None = None, *, store: Store | None = None,
        clock: Clock | None = None, durability: Durability | str = Durability.OS_CRASH,
        max_payload_bytes: int = 1 << 20, always_replay: bool = False,
        lease_seconds: float = 30.0, default_retry: RetryPolicy | None = None,
    ) -> None:
        if max_payload_bytes < 1:
            raise ValidationError(
                f"max_payload_bytes must be >= 1, got {max_payload_bytes}.",
                max_payload_bytes=max_payload_bytes,
            )
        if lease_seconds <= 0:
            raise ValidationError(f"lease_seconds must be > 0, got {lease_seconds}.")
        self.store = store if store is not None else open_store(database, Durability(durability))
        self.clock = clock or SystemClock()
        self.registry = Registry()
        settings = Settings(max_payload_bytes=max_payload_bytes, always_replay=always_replay,
                            lease_seconds=lease_seconds,
                            default_retry=default_retry or RetryPolicy.default())
        self.engine = Engine(self.store, self.registry, self.clock, settings)
        self.client = Client(self.engine)

    # --- registration --------------------------------------------------------------------------

    @overload
    def function(self, fn: Callable[[DurableContext, I], R], /) -> DurableFunction[I, R]: ...

    @overload
    def function(self, fn: Callable[[DurableContext], R], /) -> DurableFunction[None, R]: ...

    @overload
    def function(
        self, fn: Callable[[AsyncDurableContext, I], Awaitable[R]], /
    ) -> DurableFunction[I, R]: ...

    @overload
    def function(
        self, fn: Callable[[AsyncDurableContext], Awaitable[R]], /
    ) -> DurableFunction[None, R]: ...

    @overload
    def function(
        self, fn: None = None, /, *, name: str | None = None, retry: RetryPolicy | None = None,
        timeout: Duration | None = None,
    ) -> Callable[[Callable[..., Any]], DurableFunction[Any, Any]]: ...

    def function(
        self, fn: Callable[..., Any] | None = None, /, *, name: str | None = None,
        retry: RetryPolicy | None = None, timeout: Duration | None = None,
    ) -> Any:
        """Register a durable function (``def`` or ``async def``, context first, one input).

        ``retry`` is the default retry policy of its steps; ``timeout`` ends each execution as
        TIMED_OUT that long after its start (``app.start(..., timeout=...)`` overrides it).
        """
        if fn is None:
            return lambda f: self.registry.add(f, name, retry, timeout)
        return self.registry.add(fn, name, retry, timeout)

    # --- the client, at hand -------------------------------------------------------------------

    def start(
        self, function: DurableFunction[I, R] | str, input: I | None = None, *,
        id: str | None = None, timeout: Duration | None = None,
    ) -> ExecutionHandle[R]:
        """Start an execution (see Client.start)."""
        return self.client.start(function, input, id=id, timeout=timeout)

    # --- workers -------------------------------------------------------------------------------

    def worker(self, *, concurrency: int = 64, lease_seconds: float | None = None,
               poll_interval: float = 0.1) -> Worker:
        """A worker for this app (not started: call ``start()``, ``drain()``, or use ``with``)."""
        return Worker(self.engine, concurrency=concurrency, lease_seconds=lease_seconds,
                      poll_interval=poll_interval)

    @contextmanager
    def run_worker(self, *, concurrency: int = 64, lease_seconds: float | None = None,
                   poll_interval: float = 0.1) -> Iterator[Worker]:
        """Run an embedded worker in this process for the duration of the ``with`` block.

        New executions started from this process go straight to it, without a claim round-trip.
        """
        worker = self.worker(concurrency=concurrency, lease_seconds=lease_seconds,
                             poll_interval=poll_interval).start()
        self.engine.local = worker
        try:
            yield worker
        finally:
            worker.stop()

    def close(self) -> None:
        """Close the store."""
        self.engine.close()
        self.store.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

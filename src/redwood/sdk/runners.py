"""The two ways to run a batch's branches concurrently: threads for sync code, asyncio tasks for
async code. Everything else about a batch is shared (``fanout.py``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from redwood.sdk.effects import adrive, drive
from redwood.sdk.fanout import Coordinator, branch_flow
from redwood.sdk.state import Scope

# Sync branches without a max_concurrency share at most this many threads.
DEFAULT_THREADS = 64


class ThreadRunner:
    """Runs sync branches on threads; the calling thread works too."""

    def __init__(self, make_ctx: Callable[[Scope], Any]) -> None:
        self._make_ctx = make_ctx

    def run(self, coordinator: Coordinator) -> None:
        """Run branches until none can run now."""
        count = min(coordinator.runnable, coordinator.spec.max_concurrency or DEFAULT_THREADS)
        threads = [threading.Thread(target=self._work, args=(coordinator,), daemon=True,
                                    name=f"redwood-branch-{coordinator.op_id}")
                   for _ in range(count - 1)]
        for thread in threads:
            thread.start()
        self._work(coordinator)
        for thread in threads:
            thread.join()

    def _work(self, coordinator: Coordinator) -> None:
        while (index := coordinator.next_branch()) is not None:
            try:
                value = drive(branch_flow(coordinator, index, self._make_ctx), coordinator.state)
            except BaseException as error:
                coordinator.settle(index, error)
            else:
                coordinator.succeeded(index, value)


class TaskRunner:
    """Runs async branches as tasks on the running event loop."""

    def __init__(self, make_ctx: Callable[[Scope], Any], io: Executor) -> None:
        self._make_ctx = make_ctx
        self._io = io

    async def run(self, coordinator: Coordinator) -> None:
        """Run branches until none can run now."""
        count = min(coordinator.runnable,
                    coordinator.spec.max_concurrency or coordinator.runnable)
        await asyncio.gather(*(self._work(coordinator) for _ in range(count)))

    async def _work(self, coordinator: Coordinator) -> None:
        while (index := coordinator.next_branch()) is not None:
            flow = branch_flow(coordinator, index, self._make_ctx)
            try:
                value = await adrive(flow, coordinator.state, self._io)
            except BaseException as error:
                coordinator.settle(index, error)
            else:
                coordinator.succeeded(index, value)

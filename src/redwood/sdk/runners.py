"""The two ways to run a batch's branches concurrently: threads for sync code, asyncio tasks for
async code. Everything else about a batch is shared (``fanout.py``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from redwood.sdk.coordinator import Coordinator, branch_flow
from redwood.sdk.effects import adrive, drive
from redwood.sdk.lanes import current_lane
from redwood.sdk.state import Scope

# Sync branches without a max_concurrency run on at most this many threads at once.
DEFAULT_THREADS = 64


class _Crew:
    """The helper threads of one batch. The calling thread works too, so the batch makes
    progress even when every pooled thread is busy; a helper that starts after the batch
    returned finds it closed and leaves at once."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._active = 0
        self._closed = False

    def join(self) -> bool:
        with self._cv:
            if self._closed:
                return False
            self._active += 1
            return True

    def leave(self) -> None:
        with self._cv:
            self._active -= 1
            self._cv.notify_all()

    def close(self) -> None:
        """Let no more helpers in, and wait for those at work."""
        with self._cv:
            self._closed = True
            while self._active:
                self._cv.wait()


class ThreadRunner:
    """Runs sync branches on pooled threads and the calling thread."""

    def __init__(self, make_ctx: Callable[[Scope], Any], pool: Executor | None) -> None:
        self._make_ctx = make_ctx
        self._pool = pool

    def run(self, coordinator: Coordinator) -> None:
        """Run branches until none can run now."""
        helpers = min(coordinator.runnable,
                      coordinator.spec.max_concurrency or DEFAULT_THREADS) - 1
        pool = self._pool if self._pool is not None or helpers <= 0 \
            else ThreadPoolExecutor(helpers, thread_name_prefix="redwood-branch")
        crew = _Crew()
        for _ in range(helpers):
            assert pool is not None
            pool.submit(self._help, coordinator, crew)
        try:
            self._work(coordinator)
        finally:
            crew.close()
            if pool is not self._pool and pool is not None:
                pool.shutdown(wait=False)

    def _help(self, coordinator: Coordinator, crew: _Crew) -> None:
        if crew.join():
            try:
                self._work(coordinator)
            finally:
                crew.leave()

    def _work(self, coordinator: Coordinator) -> None:
        while (index := coordinator.next_branch()) is not None:
            lane = current_lane.set(coordinator.token(index))
            try:
                value = drive(branch_flow(coordinator, index, self._make_ctx), coordinator.state)
            except BaseException as error:
                commit = coordinator.settle(index, error)
            else:
                commit = coordinator.succeeded(index, value)
            finally:
                current_lane.reset(lane)
            if commit:
                try:
                    coordinator.state.flush_soon()
                except BaseException as error:
                    coordinator.crashed(error)


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
            # Each task runs in its own copy of the context: the lane is this task's alone.
            current_lane.set(coordinator.token(index))
            flow = branch_flow(coordinator, index, self._make_ctx)
            try:
                value = await adrive(flow, coordinator.state, self._io)
            except BaseException as error:
                commit = coordinator.settle(index, error)
            else:
                commit = coordinator.succeeded(index, value)
            if commit:
                try:
                    await asyncio.get_running_loop().run_in_executor(
                        self._io, coordinator.state.flush_soon)
                except BaseException as error:
                    coordinator.crashed(error)

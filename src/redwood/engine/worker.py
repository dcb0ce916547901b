"""Workers: claim ready executions under a lease and run their invocations concurrently
(threads for sync functions, one event loop for async ones)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from redwood.engine.engine import Engine
from redwood.errors import LeaseLost, UnknownFunction, ValidationError
from redwood.model import Claim

_logger = logging.getLogger("redwood.worker")


def default_worker_id() -> str:
    """host:pid:random, unique per worker object."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs invocations for one engine until stopped.

    Idle, it sleeps until the next due timer, an in-process wake-up, or a commit by another
    process (the store's change marker, checked every ``poll_interval`` real seconds).
    """

    # Seconds before an execution of a function this worker does not know is offered again.
    UNKNOWN_FUNCTION_RETRY = 60.0

    def __init__(
        self, engine: Engine, *, concurrency: int = 64, lease_seconds: float | None = None,
        poll_interval: float = 0.1, worker_id: str | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValidationError(
                f"Worker concurrency must be >= 1, got {concurrency}. Pass concurrency=1 or more.",
                concurrency=concurrency,
            )
        self.engine = engine
        self.worker_id = worker_id or default_worker_id()
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds or engine.settings.lease_seconds
        self.poll_interval = poll_interval
        self._cv = threading.Condition()
        self._kicked = False
        self._stopping = False
        self._busy = 0
        self._leases: dict[str, int] = {}
        self._renew_at = float("inf")
        # Claims are made for this many slots at a time (unless nothing runs): a saturated
        # worker must not claim one execution per transaction as each slot frees up.
        self._batch = max(1, min(16, concurrency // 4))
        self._threads: ThreadPoolExecutor | None = None
        self._io: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatcher: threading.Thread | None = None
        self._loop_thread: threading.Thread | None = None

    # --- life ----------------------------------------------------------------------------------

    def start(self) -> Worker:
        """Start the dispatcher in background threads; returns self."""
        self._threads = ThreadPoolExecutor(self.concurrency, thread_name_prefix="redwood-invoke")
        self._io = ThreadPoolExecutor(self.concurrency, thread_name_prefix="redwood-io")
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                             name="redwood-async")
        self._loop_thread.start()
        self.engine.notifier.subscribe(self.kick)
        self._dispatcher = threading.Thread(target=self._run, daemon=True,
                                            name="redwood-dispatcher")
        self._dispatcher.start()
        return self

    def stop(self, grace: float = 30.0) -> None:
        """Stop claiming; ask running invocations to hand their executions back at their next
        operation; wait up to ``grace`` seconds for them."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self.engine.notifier.unsubscribe(self.kick)
        if self.engine.local is self:
            self.engine.local = None
        if self._dispatcher is not None:
            self._dispatcher.join()
            self._heartbeat(stopped=True)
        self.engine.hand_back(list(self._leases))
        deadline = time.monotonic() + grace
        with self._cv:
            while self._busy and time.monotonic() < deadline:
                self._cv.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._loop_thread is not None:
            self._loop_thread.join(timeout=1.0)
        if self._io is not None:
            self._io.shutdown(wait=False)

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kick(self) -> None:
        """Wake the dispatcher: something may be ready."""
        with self._cv:
            self._kicked = True
            self._cv.notify_all()

    @property
    def in_flight(self) -> int:
        """Invocations running now."""
        return self._busy

    # --- direct dispatch (LocalDispatch) -------------------------------------------------------

    def reserve(self) -> bool:
        with self._cv:
            if self._stopping or self._busy >= self.concurrency or self._threads is None:
                return False
            self._busy += 1
            return True

    def unreserve(self) -> None:
        with self._cv:
            self._busy -= 1
            self._cv.notify_all()

    def submit(self, claim: Claim) -> None:
        """Run a claim this worker holds (a slot must be reserved)."""
        self._leases[claim.execution.id] = claim.lease_token
        # A lease is renewed a third of the way through, counted from when it was acquired
        # (a direct dispatch may acquire one before the dispatcher has even started).
        renew_at = self.engine.clock.now() + self.lease_seconds / 3
        with self._cv:
            if renew_at < self._renew_at:
                self._renew_at = renew_at
                self._cv.notify_all()
        try:
            is_async = self.engine.is_async(claim)
        except UnknownFunction as error:
            # Another worker (another version of the app) may know it: give the execution back
            # for later instead of holding the slot and the lease.
            _logger.error("worker %s cannot run %s: %s", self.worker_id, claim.execution.id,
                          error)
            self._leases.pop(claim.execution.id, None)
            self.unreserve()
            self.engine.give_back(claim, self.UNKNOWN_FUNCTION_RETRY)
            return
        if is_async:
            assert self._loop is not None and self._io is not None
            future = self.engine.schedule_async(claim, self._io, self._loop)
        else:
            assert self._threads is not None
            future = self._threads.submit(self.engine.invoke, claim)
        future.add_done_callback(lambda done: self._done(claim, done))

    def _done(self, claim: Claim, future: Future[Any]) -> None:
        if future.cancelled():  # dropped before it ran (the worker stopped)
            self.engine.not_coming(claim.execution.id)
            error = None
        else:
            error = future.exception()
        if isinstance(error, LeaseLost):
            _logger.warning("%s", error)
        elif error is not None:
            _logger.error("invocation of %s crashed", claim.execution.id, exc_info=error)
        # A newer claim of the same execution (after this one's lease lapsed) keeps its lease.
        if self._leases.get(claim.execution.id) == claim.lease_token:
            self._leases.pop(claim.execution.id, None)
        with self._cv:
            self._busy -= 1
            # Only a dispatcher that stopped claiming for want of slots needs to hear of it.
            if self._busy == self.concurrency - self._batch or self._stopping:
                self._kicked = True
                self._cv.notify_all()

    # --- the dispatcher ------------------------------------------------------------------------

    def _run(self) -> None:
        clock = self.engine.clock
        self._heartbeat()  # announce the worker before its first renewal is due
        with self._cv:
            self._renew_at = min(self._renew_at, clock.now() + self.lease_seconds / 3)
        while not self._stopping:
            try:
                # Renew before claiming, on the clock the leases are measured in: a lease of
                # ours that lapsed while its invocation still runs must not look ready to us.
                now = clock.now()
                if now >= self._renew_at:
                    self._renew(now)
                    with self._cv:
                        self._renew_at = now + self.lease_seconds / 3
                self._claim_and_submit()
                self._idle()
            except Exception:
                _logger.exception("worker %s: dispatcher error; retrying", self.worker_id)
                with self._cv:
                    self._cv.wait(min(1.0, self.poll_interval * 10))

    def _claim_and_submit(self) -> None:
        while not self._stopping:
            with self._cv:
                free = self.concurrency - self._busy
                self._kicked = False
            if free <= 0 or (free < self._batch and self._busy > 0):
                return
            # A read first: claiming takes the write lock, which idle polling must not do.
            next_at = self.engine.store.next_ready_at()
            if next_at is None or next_at > self.engine.clock.now():
                return
            claims = self.engine.claim(self.worker_id, free, self.lease_seconds)
            for claim in claims:
                with self._cv:
                    self._busy += 1
                self.submit(claim)
            if len(claims) < free:
                return

    def _idle(self) -> None:
        clock = self.engine.clock
        store = self.engine.store
        next_at = store.next_ready_at()
        marker = store.ready_marker()
        while not self._stopping:
            # With every slot busy, ready work waits for a slot (a kick), not for its time; while
            # invocations run, the renewal of their leases is due too.
            # The renewal also carries the heartbeat that keeps an idle worker listed as alive.
            free = self.concurrency - self._busy
            wake_at = next_at if free >= self._batch or self._busy == 0 else None
            wake_at = self._renew_at if wake_at is None else min(wake_at, self._renew_at)
            with self._cv:
                if self._kicked:
                    return
                if wake_at is not None and clock.now() >= wake_at:
                    return
                clock.wait(self._cv, wake_at, self.poll_interval)
                if self._kicked:
                    return
            if wake_at is not None and clock.now() >= wake_at:
                return
            if store.ready_marker() != marker:
                return

    def _renew(self, now: float) -> None:
        leases = dict(self._leases)
        if leases:
            lost = self.engine.store.renew_leases(self.worker_id, leases, now, self.lease_seconds)
            self.engine.leases_renewed({execution_id: token for execution_id, token in leases.items()
                                        if execution_id not in lost}, now + self.lease_seconds)
            # An invocation that has just ended released its lease before leaving the table.
            for execution_id in lost & self._leases.keys():
                if self.engine.is_running(execution_id):
                    _logger.warning("worker %s lost the lease of %s", self.worker_id,
                                    execution_id)
        self._heartbeat()

    def _heartbeat(self, stopped: bool = False) -> None:
        try:
            self.engine.store.heartbeat_worker(self.worker_id, self.info(stopped),
                                               self.engine.clock.now())
        except Exception:
            # The workers table is for people looking on; running executions matter more.
            _logger.warning("worker %s: heartbeat failed", self.worker_id, exc_info=True)

    def info(self, stopped: bool = False) -> dict[str, Any]:
        """What this worker announces in the workers table."""
        info: dict[str, Any] = {
            "host": socket.gethostname(), "pid": os.getpid(), "concurrency": self.concurrency,
            "in_flight": self._busy, "lease_seconds": self.lease_seconds,
            "functions": self.engine.registry.names(),
        }
        if stopped:
            info["stopped"] = True
        return info

    # --- synchronous driving (tests, scripts) --------------------------------------------------

    def drain(self, limit: int = 10_000) -> int:
        """Run every ready execution to its next suspension in this thread; return how many
        invocations ran. Nothing runs in the background: tests stay deterministic."""
        ran = 0
        while ran < limit:
            claims = self.engine.claim(self.worker_id, 16, self.lease_seconds)
            if not claims:
                return ran
            for claim in claims:
                self._run_inline(claim)
                ran += 1
        return ran

    def _run_inline(self, claim: Claim) -> None:
        if self.engine.is_async(claim):
            io = self._io or ThreadPoolExecutor(4, thread_name_prefix="redwood-io")
            try:
                asyncio.run(self.engine.ainvoke(claim, io))
            finally:
                if io is not self._io:
                    io.shutdown(wait=False)
        else:
            self.engine.invoke(claim)

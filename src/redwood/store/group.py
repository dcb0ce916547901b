"""Group commit: the writes of many threads share one transaction, led by one of them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from redwood.store.base import CommitResult, JournalWrite

T = TypeVar("T")


class Request:
    """One caller's write waiting for the next shared transaction: a checkpoint batch
    (``journal``), or a function of the store's connection (``fn``)."""

    __slots__ = ("done", "error", "fn", "future", "journal", "value", "wake")

    def __init__(
        self, fn: Callable[[Any], Any] | None, journal: JournalWrite | None = None,
        future: Future[Any] | None = None,
    ) -> None:
        self.fn = fn
        self.journal = journal
        # Set for a caller that does not wait in a thread (the event loop): it gets a future.
        self.future = future
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        # A held lock is the cheapest one-shot wake-up: release() wakes the one waiter.
        self.wake = threading.Lock()
        self.wake.acquire()


# Writes a batch in one transaction, setting each request's value or error; raises when the
# transaction failed as a whole.
BatchWriter = Callable[[list[Request]], None]


class GroupCommit:
    """Leader/follower group commit. The thread that finds no commit in progress leads: it writes
    every queued request in one transaction (one fsync, one round trip), then wakes each of them
    once and hands the lead to the first request that queued meanwhile. No thread hand-off on the
    uncontended path; under load every concurrent execution's checkpoint shares the same commit.

    Callers on an event loop ``submit`` instead and get a future: when no thread of theirs can
    lead, a background thread leads for them, so a step of an async execution costs no thread
    hand-off of its own.
    """

    def __init__(self, write: BatchWriter, name: str) -> None:
        self._write = write
        self._name = name
        self._lock = threading.Lock()
        self._queue: list[Request] = []
        self._leading = False
        # Transactions committed; only the leader writes it (benchmarks read it).
        self.commits = 0
        self._background: threading.Semaphore | None = None

    def submit(self, write: JournalWrite) -> Future[CommitResult]:
        """Queue a checkpoint batch for the next shared transaction; the future tells the end."""
        future: Future[CommitResult] = Future()
        request = Request(None, write, future)
        with self._lock:
            self._queue.append(request)
            lead = not self._leading
            self._leading = True
        if lead:
            self._wake_background()
        return future

    def run(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn`` inside the next shared transaction and return what it returns."""
        return self._submit(Request(fn))  # type: ignore[no-any-return]

    def commit(self, write: JournalWrite) -> CommitResult:
        """Commit a checkpoint batch in the next shared transaction."""
        return self._submit(Request(None, write))  # type: ignore[no-any-return]

    def _wake_background(self) -> None:
        if self._background is None:
            with self._lock:
                if self._background is None:
                    self._background = threading.Semaphore(0)
                    threading.Thread(target=self._background_loop, args=(self._background,),
                                     daemon=True, name=self._name).start()
        self._background.release()

    def _background_loop(self, wake: threading.Semaphore) -> None:
        while True:
            wake.acquire()
            self._lead()

    def _submit(self, request: Request) -> Any:
        with self._lock:
            self._queue.append(request)
            lead = not self._leading
            self._leading = True
        if not lead:
            request.wake.acquire()
        if not request.done:
            self._lead()
        if request.error is not None:
            raise request.error
        return request.value

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._write(batch)
            self.commits += 1
        except BaseException as error:
            for request in batch:
                if request.error is None:
                    request.error = error
        finally:
            for request in batch:
                request.done = True
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._leading = successor is not None
            for request in batch:
                if request.future is not None:
                    _settle(request)
                elif request.wake.locked():
                    request.wake.release()
            if successor is not None and successor.future is not None:
                self._wake_background()
            elif successor is not None:
                successor.wake.release()


def _settle(request: Request) -> None:
    assert request.future is not None
    if request.error is not None:
        request.future.set_exception(request.error)
    else:
        request.future.set_result(request.value)

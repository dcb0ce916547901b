"""All time comes from one injectable clock, so tests skip time instead of sleeping."""

from __future__ import annotations

import threading
import time
import weakref
from typing import Protocol


class Clock(Protocol):
    """Wall time in epoch seconds, and a way to sleep in that time."""

    def now(self) -> float:
        """The current time in seconds since the epoch."""
        ...

    def wait(self, condition: threading.Condition, deadline: float | None, cap: float) -> None:
        """Wait on ``condition`` (held) until notified, ``deadline`` passes, or ``cap`` real
        seconds."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> float:
        return time.time()

    def wait(self, condition: threading.Condition, deadline: float | None, cap: float) -> None:
        timeout = cap if deadline is None else min(cap, max(0.0, deadline - time.time()))
        condition.wait(timeout)


class ManualClock:
    """A clock that only moves when a test calls ``advance``; sleepers wake when it moves."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._sleepers: weakref.WeakSet[threading.Condition] = weakref.WeakSet()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward and wake everything sleeping on this clock."""
        if seconds < 0:
            raise ValueError(f"ManualClock.advance: seconds must be >= 0, got {seconds}")
        with self._lock:
            self._now += seconds
            sleepers = list(self._sleepers)
        for condition in sleepers:
            with condition:
                condition.notify_all()

    def wait(self, condition: threading.Condition, deadline: float | None, cap: float) -> None:
        with self._lock:
            self._sleepers.add(condition)
        if deadline is not None and deadline <= self._now:
            return
        condition.wait(cap)

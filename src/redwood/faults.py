"""Named fault points for crash tests: ``REDWOOD_FAULT=commit.before:7`` makes this process
SIGKILL itself the 7th time it reaches ``commit.before``. Off unless the variable is set."""

from __future__ import annotations

import os
import signal
import threading

_spec = os.environ.get("REDWOOD_FAULT", "")
ACTIVE = bool(_spec)
_point, _, _count = _spec.partition(":")
_remaining = int(_count or "1") if ACTIVE else 0
_lock = threading.Lock()


def reach(point: str) -> None:
    """Die here, abruptly, if this is the configured fault point and its turn has come."""
    global _remaining
    if point != _point:
        return
    with _lock:
        _remaining -= 1
        if _remaining == 0:
            os.kill(os.getpid(), signal.SIGKILL)

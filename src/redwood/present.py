"""How stored values, errors and durations are shown to people and scripts (CLI and server)."""

from __future__ import annotations

import json
from typing import Any

from redwood.model import ErrorRecord


def stored_value(text: str | None) -> Any:
    """A stored value as data (the raw text when a custom serde did not write JSON)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def error_data(error: ErrorRecord | None) -> dict[str, Any] | None:
    """An error as data: type, message, MRO and traceback."""
    return None if error is None else error.to_json()


def duration(seconds: float | None, missing: str = "-") -> str:
    """A duration the way people say it: 850 ms, 2.41 s, 3m 20s, 5h 2m, 3d 4h."""
    if seconds is None:
        return missing
    seconds = max(0.0, seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"

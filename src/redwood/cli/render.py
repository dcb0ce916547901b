"""Small pieces of human output: times, durations, statuses in colour, one-line value summaries."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from rich.text import Text

from redwood.model import ErrorRecord
from redwood.types import ExecutionStatus, OperationStatus

_STATUS_STYLE = {
    "SUCCEEDED": "green",
    "FAILED": "bold red",
    "TIMED_OUT": "red",
    "STOPPED": "magenta",
    "CANCELLED": "magenta",
    "RUNNING": "cyan",
    "STARTED": "cyan",
    "PENDING": "yellow",
    "READY": "blue",
}


def literal(*cells: str | Text) -> list[Text]:
    """Table cells with strings taken literally: user data like "[bold]" must not be markup."""
    return [Text(cell) if isinstance(cell, str) else cell for cell in cells]


def status_text(status: ExecutionStatus | OperationStatus) -> Text:
    """A status word in its colour."""
    return Text(status.value, style=_STATUS_STYLE.get(status.value, ""))


def local_time(timestamp: float | None) -> str:
    """Epoch seconds as local date and time, to the second."""
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def clock_time(timestamp: float) -> str:
    """Epoch seconds as local time of day, to the millisecond."""
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%H:%M:%S.%f")[:-3]


def duration(seconds: float | None) -> str:
    """A duration the way people say it: 850 ms, 2.41 s, 3m 20s, 5h 2m, 3d 4h."""
    if seconds is None:
        return "-"
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


def summary(text: str | None, width: int = 60) -> str:
    """A stored value on one line, cut at ``width`` characters."""
    if text is None:
        return ""
    try:
        one_line = json.dumps(json.loads(text), ensure_ascii=False, separators=(", ", ": "))
    except ValueError:
        one_line = " ".join(text.split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


def error_summary(error: ErrorRecord | dict[str, object] | None, width: int = 80) -> str:
    """``Type: message`` with the type's module left off, cut at ``width`` characters."""
    if error is None:
        return ""
    if isinstance(error, ErrorRecord):
        kind, message = error.type, error.message
    else:
        kind, message = str(error.get("type", "Error")), str(error.get("message", ""))
    text = f"{kind.rsplit('.', 1)[-1]}: {' '.join(message.split())}"
    return text if len(text) <= width else text[: width - 1] + "…"


def database_label(url: str) -> str:
    """A database for display, with any password masked."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))

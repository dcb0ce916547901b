"""Small pieces of human output: times, durations, statuses in colour, one-line value summaries."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

from rich.text import Text

from redwood.model import ErrorRecord
from redwood.present import duration as duration  # the CLI's formatters live together here
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

"""Blocked-on in the CLI: the ``--blocked-on`` option of ``redwood list`` and the lines
``redwood show`` prints (branch cli wires both in, see docs/dashboard.md)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from redwood.engine.blocked import BlockedOn
from redwood.types import BlockedKind

F = TypeVar("F", bound=Callable[..., Any])


def blocked_on_option(command: F) -> F:
    """``--blocked-on KIND``: only running executions blocked on KIND now."""
    option = click.option(
        "--blocked-on", "blocked_on", default=None,
        type=click.Choice([kind.value for kind in BlockedKind]),
        help="Only running executions blocked on this now (running, timer, callback, event, "
             "children, retry, ready, lease_expired).")
    return option(command)


def describe(blocked: Sequence[BlockedOn], now: float) -> list[str]:
    """One line per thing the execution waits for, the one naming its kind first."""
    if not blocked:
        return []
    return [_line(item, now) for item in blocked]


def _line(item: BlockedOn, now: float) -> str:
    parts = [item.kind.value.replace("_", " ")]
    if item.operation_id is not None:
        parts.append(f'operation #{item.operation_id}' + (f' "{item.name}"' if item.name else ""))
    if item.attempt:
        parts.append(f"attempt {item.attempt}")
    if item.since is not None:
        parts.append(f"since {_time(item.since)} ({_ago(now - item.since)})")
    if item.until is not None:
        parts.append(f"until {_time(item.until)}")
    details = item.details
    for key in ("callback_id", "event", "child_execution_id", "child_status", "worker",
                "reason", "last_heartbeat_at"):
        value = details.get(key)
        if value is not None:
            shown = _time(value) if key.endswith("_at") else value
            parts.append(f"{key.replace('_', ' ')} {shown}")
    error = details.get("last_error")
    if isinstance(error, dict):
        parts.append(f"last error {error.get('type')}: {error.get('message')}")
    return ", ".join(parts)


def _time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"

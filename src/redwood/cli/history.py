"""The history table of ``redwood show``: every event with its key details on one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from rich.table import Table
from rich.text import Text

from redwood.cli.render import clock_time, duration, error_summary, literal, summary
from redwood.model import HistoryEvent
from redwood.store.base import Store

_PAGE = 1000
# Keys that repeat what the row already says, or that only matter to scripts (--json has them).
_HIDDEN = {"function", "started_at"}


def all_history(store: Store, execution_id: str) -> Iterator[HistoryEvent]:
    """Every event of the execution, oldest first, read a page at a time."""
    after = 0
    while True:
        page = store.history(execution_id, after, _PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1].id


def history_table(events: list[HistoryEvent], started: float) -> Table:
    """Events as rows: id, time, time since the execution started, type, subtype, operation,
    name, key details."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    with_subtype = any(event.subtype for event in events)
    table.add_column("ID", justify="right", style="dim", no_wrap=True)
    table.add_column("TIME", no_wrap=True)
    table.add_column("+", justify="right", style="dim", no_wrap=True)
    table.add_column("TYPE", no_wrap=True)
    if with_subtype:
        table.add_column("SUBTYPE", no_wrap=True)
    table.add_column("OP", no_wrap=True)
    table.add_column("NAME", overflow="fold", min_width=8)
    table.add_column("DETAILS")
    for event in events:
        row: list[str | Text] = [str(event.id), clock_time(event.timestamp),
                                 f"{event.timestamp - started:.3f}s", _type_text(event.type)]
        if with_subtype:
            row.append(event.subtype or "")
        row += [event.operation_id or "", event.name or "", event_details(event)]
        table.add_row(*literal(*row))
    return table


def _type_text(event_type: str) -> Text:
    if event_type.endswith(("Failed", "TimedOut")):
        return Text(event_type, style="red")
    if event_type.endswith(("Stopped", "Cancelled")):
        return Text(event_type, style="magenta")
    if event_type.endswith("Succeeded"):
        return Text(event_type, style="green")
    return Text(event_type)


def event_details(event: HistoryEvent) -> Text:
    """The details that matter when reading the log: attempt, error, retry, result, timing."""
    details = {k: v for k, v in event.details.items() if k not in _HIDDEN}
    text = Text()

    def add(part: str, style: str = "") -> None:
        if text:
            text.append("  ")
        text.append(part, style=style)

    if event.type == "InvocationCompleted":
        took = details.pop("duration", None)
        add(f"#{details.pop('invocation', '?')} {details.pop('ending', '')}".rstrip())
        if isinstance(took, int | float):
            add(f"in {duration(took)}", "dim")
    if "attempt" in details:
        add(f"attempt {details.pop('attempt')}")
    error = details.pop("error", None)
    if isinstance(error, dict):
        add(error_summary(error), "red")
    retry = details.pop("retry", None)
    if isinstance(retry, dict) and isinstance(retry.get("delay"), int | float):
        add(f"retry in {duration(retry['delay'])}", "yellow")
    if isinstance(details.get("duration"), int | float):
        add(f"for {duration(details.pop('duration'))}")
    if isinstance(details.get("scheduled_end"), int | float):
        add(f"until {clock_time(details.pop('scheduled_end'))}")
    for key in ("input", "result"):
        if key in details:
            value = details.pop(key)
            add(f"{key} {summary(value) if isinstance(value, str) else _json(value)}")
    for key, value in details.items():
        add(f"{key}={_json(value)}")
    return text


def _json(value: Any) -> str:
    return summary(json.dumps(value, ensure_ascii=False, default=str))

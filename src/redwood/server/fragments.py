"""The HTML the execution page repeats once per operation (its Gantt row and its tree row).

An execution may hold a thousand operations; building these rows with f-strings is several
times faster than a template loop. Every value that comes from users or the journal goes
through ``escape`` (markupsafe, the same escaping the templates use); the rest are numbers and
names of our own enums.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from markupsafe import Markup, escape

from redwood.model import ErrorRecord, HistoryEvent
from redwood.server.timeline import Row, Timeline, clock_text


def gantt_rows(chart: Timeline) -> Markup:
    """Every row of the Gantt chart."""
    now = (f'<line class="now" x1="{chart.now_at}%" x2="{chart.now_at}%" y1="0" y2="100%"/>'
           if chart.now_at is not None else "")
    return Markup("\n".join(_gantt_row(row, now) for row in chart.rows))


def _gantt_row(row: Row, now: str) -> str:
    op_id = escape(row.op.id)
    bars = "".join(
        f'<rect class="seg seg-{segment.kind}" x="{segment.left}%" width="{segment.width}%" '
        f'rx="2"><title>{escape(segment.title)}</title></rect>'
        for segment in row.segments)
    return (f'<div class="gantt-row"><div class="gantt-label depth-{row.depth}" '
            f'title="{escape(row.kind)} #{op_id}"><span class="mono muted">#{op_id}</span> '
            f'{escape(row.label)}</div><svg class="lane" preserveAspectRatio="none">{now}{bars}'
            "</svg></div>")


def operation_rows(chart: Timeline) -> Markup:
    """Every row of the operation tree."""
    return Markup("\n".join(_operation_row(row) for row in chart.rows))


def _operation_row(row: Row) -> str:
    op = row.op
    op_id = escape(op.id)
    status = op.status.value
    started = (f'<time data-ts="{op.started_at}">{row.started}</time>'
               if op.started_at is not None else "")
    if op.error is not None:
        outcome = (f'<details><summary class="bad">{escape(op.error.type.rsplit(".", 1)[-1])}'
                   f"</summary>{error_box(op.error)}</details>")
    elif op.result is not None:
        # The stored JSON as is; the page's script indents it when opened.
        outcome = (f'<details class="raw-json"><summary>result</summary>'
                   f'<pre class="json">{escape(op.result)}</pre></details>')
    else:
        outcome = ""
    return (f'<tr id="op-{op_id}"><td class="depth-{row.depth}"><span class="mono muted">'
            f"#{op_id}</span> {escape(op.name or '')}</td><td class=\"type\">{escape(row.kind)}"
            f'</td><td><span class="badge status-{status.lower()}">{status}</span></td>'
            f'<td class="num">{op.attempt or ""}</td><td>{started}</td>'
            f'<td class="num">{row.duration}</td><td>{outcome}</td></tr>')


def error_box(error: ErrorRecord) -> str:
    """An error: its type and message, and its stack trace behind a toggle."""
    trace = (f'<details><summary>Stack trace</summary><pre class="trace">'
             f"{escape(error.traceback)}</pre></details>" if error.traceback else "")
    return (f'<div class="error-box"><div class="error-title"><code>{escape(error.type)}</code>: '
            f"{escape(error.message)}</div>{trace}</div>")


def history_rows(events: Iterable[HistoryEvent]) -> Markup:
    """Rows of the history table (details as compact JSON, indented by the page when opened)."""
    return Markup("\n".join(_history_row(event) for event in events))


def _history_row(event: HistoryEvent) -> str:
    bad = ' class="bad-row"' if event.type.endswith(("Failed", "TimedOut")) else ""
    subtype = f' <span class="muted">{escape(event.subtype)}</span>' if event.subtype else ""
    name = escape(event.name or "")
    if event.operation_id is not None:
        op_id = escape(event.operation_id)
        where = f'<a class="mono" href="#op-{op_id}">#{op_id}</a> {name}'
    else:
        where = str(name)
    details = ""
    if event.details:
        text = json.dumps(event.details, ensure_ascii=False, default=str)
        details = (f'<details class="raw-json"><summary>details</summary>'
                   f'<pre class="json">{escape(text)}</pre></details>')
    return (f'<tr{bad}><td class="num muted">{event.id}</td><td><time data-ts='
            f'"{event.timestamp}">{clock_text(event.timestamp)}</time></td><td><strong>'
            f"{escape(event.type)}</strong>{subtype}</td><td>{where}</td><td>{details}</td></tr>")

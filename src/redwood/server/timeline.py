"""The execution page's operation tree and Gantt chart, computed from the journal and history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redwood.model import Execution, HistoryEvent, Operation
from redwood.present import duration
from redwood.types import OperationStatus, OperationType

# Narrower segments would vanish on screen; they are drawn this wide (in % of the chart).
_MIN_WIDTH = 0.25
_UNDERNEATH = frozenset({"backoff", "planned"})


@dataclass(frozen=True, slots=True)
class Segment:
    """One bar of a Gantt row: an attempt, a back-off, a wait; positions in % of the chart."""

    kind: str
    start: float
    end: float
    left: float
    width: float
    title: str


@dataclass(frozen=True, slots=True)
class Row:
    """One operation in tree order, with its depth, its bars, and its texts ready to show
    (a page may list a thousand operations: the template only pastes)."""

    op: Operation
    depth: int
    segments: list[Segment] = field(default_factory=list)
    label: str = ""
    kind: str = ""
    started: str = ""
    duration: str = ""


@dataclass(frozen=True, slots=True)
class Timeline:
    """The chart's time range and its rows."""

    start: float
    end: float
    rows: list[Row]
    ticks: list[tuple[float, float]]
    now_at: float | None = None


def tree_order(operations: Iterable[Operation]) -> list[tuple[Operation, int]]:
    """Operations depth first (children right under their parent, in recorded order)."""
    ops = list(operations)
    known = {op.id for op in ops}
    children: dict[str | None, list[Operation]] = {}
    for op in ops:
        parent = op.parent_id if op.parent_id in known else None
        children.setdefault(parent, []).append(op)
    ordered: list[tuple[Operation, int]] = []
    stack = [(op, 0) for op in reversed(children.get(None, []))]
    while stack:
        op, depth = stack.pop()
        ordered.append((op, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(op.id, [])))
    return ordered


def needs_history(operations: Iterable[Operation]) -> list[str]:
    """The steps whose attempts only the history tells apart: retried or not simply succeeded
    (the journal alone draws every other operation)."""
    return [op.id for op in operations if op.type is OperationType.STEP and (
        op.attempt > 1 or op.status is not OperationStatus.SUCCEEDED)]


def build(
    execution: Execution, operations: list[Operation], history: list[HistoryEvent], now: float
) -> Timeline:
    """The Gantt chart of one execution."""
    start = execution.created_at
    end = execution.ended_at if execution.ended_at is not None else now
    attempts = _attempts(history, end)
    # A running execution's chart reaches past now to its pending timers (waits, back-offs,
    # callback deadlines), but at most as far again as it has run, so a year-long wait does
    # not squash everything else into a line.
    planned = [op.due_at for op in operations if op.due_at is not None and op.due_at > end
               and not op.status.finished]
    horizon = min(max(planned), end + max(end - start, 60.0)) if planned and \
        execution.ended_at is None else end
    span = max(horizon - start, 1e-3)
    rows = []
    depth_cap = 8
    for op, depth in tree_order(operations):
        spans = list(attempts.get(op.id) or _plain(op, end))
        if op.due_at is not None and op.due_at > end and not op.status.finished \
                and execution.ended_at is None:
            spans.append(("planned", end, min(op.due_at, horizon), "due"))
        # Attempts are drawn last, so a short one stays visible over the back-off it starts.
        spans.sort(key=lambda item: item[0] not in _UNDERNEATH)
        segments = [_segment(kind, a, b, label, start, span) for kind, a, b, label in spans]
        stop = op.ended_at if op.ended_at is not None else end
        rows.append(Row(
            op, min(depth, depth_cap), segments,
            label=op.name or op.subtype or op.type.value.lower(),
            kind=op.type.value.lower() + (f" {op.subtype}" if op.subtype else ""),
            started=clock_text(op.started_at),
            duration=duration(stop - op.started_at) if op.started_at is not None else ""))
    ticks = [(i * 25.0, start + span * i / 4) for i in range(5)]
    now_at = round((end - start) / span * 100, 3) if horizon > end else None
    return Timeline(start, horizon, rows, ticks, now_at)


def _segment(kind: str, a: float, b: float, label: str, start: float, span: float) -> Segment:
    left = min(max((a - start) / span * 100, 0.0), 100.0)
    width = max(min((b - a) / span * 100, 100.0 - left), _MIN_WIDTH)
    title = f"{label}: +{duration(a - start)} → +{duration(b - start)} ({duration(b - a)})"
    return Segment(kind, a, b, round(min(left, 100 - _MIN_WIDTH), 3), round(width, 3), title)


def clock_text(moment: float | None) -> str:
    """Epoch seconds as UTC text (the page's script shows it in local time)."""
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def _plain(op: Operation, end: float) -> list[tuple[str, float, float, str]]:
    if op.started_at is None:
        return []
    stop = op.ended_at if op.ended_at is not None else end
    if op.type is OperationType.STEP:
        kind = "running" if not op.status.finished else op.status.value.lower()
        return [(kind, op.started_at, stop, f"attempt {max(op.attempt, 1)}")]
    kind = {OperationType.CONTEXT: "context", OperationType.WAIT: "wait",
            OperationType.CALLBACK: "wait", OperationType.CHAINED_INVOKE: "wait"}.get(op.type,
                                                                                   "wait")
    if op.status.finished and op.type is not OperationType.CONTEXT:
        kind = "wait-done"
    return [(kind, op.started_at, stop, op.status.value.lower())]


def _attempts(history: list[HistoryEvent], end: float) -> dict[str, list[tuple[str, float, float,
                                                                                 str]]]:
    """Each step's attempts and back-offs from StepStarted / StepFailed / StepSucceeded."""
    found: dict[str, list[tuple[str, float, float, str]]] = {}
    open_at: dict[str, tuple[float, int]] = {}
    for event in history:
        op_id = event.operation_id
        if op_id is None or not event.type.startswith("Step"):
            continue
        attempt = event.details.get("attempt", 0)
        if event.type == "StepStarted":
            began = event.details.get("started_at", event.timestamp)
            open_at[op_id] = (float(began), int(attempt))
            continue
        if event.type not in ("StepFailed", "StepSucceeded"):
            continue
        began, number = open_at.pop(op_id, (event.timestamp, int(attempt)))
        spans = found.setdefault(op_id, [])
        outcome = "succeeded" if event.type == "StepSucceeded" else "failed"
        spans.append((outcome, began, event.timestamp, f"attempt {number} {outcome}"))
        retry = event.details.get("retry")
        if isinstance(retry, dict) and retry.get("next_attempt_at") is not None:
            resume = float(retry["next_attempt_at"])
            spans.append(("backoff", event.timestamp, min(resume, end),
                          f"retry back-off until attempt {number + 1}"))
    for op_id, (began, number) in open_at.items():
        found.setdefault(op_id, []).append(("running", began, end, f"attempt {number} running"))
    return found

"""The operation tree of ``redwood show``: the journal nested by parent id, one line per
operation with its status, attempts, timing and outcome."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from rich.text import Text
from rich.tree import Tree

from redwood.cli.render import clock_time, duration, error_summary, status_text, summary
from redwood.model import Execution, Operation
from redwood.types import OperationStatus, OperationType

_CONTEXT_KINDS = {
    "RunInChildContext": "child context",
    "Parallel": "parallel",
    "ParallelBranch": "branch",
    "Map": "map",
    "MapIteration": "iteration",
    "WaitForCallback": "wait_for_callback",
}
_STEP_KINDS = {"now": "ctx.now()", "random": "ctx.random()", "uuid4": "ctx.uuid4()",
               "Patch": "patch", "WaitForCondition": "wait_for_condition"}


def operation_tree(execution: Execution, operations: Iterable[Operation]) -> Tree:
    """A tree rooted at the execution, children in recorded order."""
    root = Tree(Text.assemble(("execution ", "dim"), (execution.id, "bold"), " ",
                              (execution.function, "cyan"), "  ", status_text(execution.status)),
                guide_style="dim")
    known = list(operations)
    ids = {op.id for op in known}
    children: defaultdict[str | None, list[Operation]] = defaultdict(list)
    for op in known:
        # An operation whose parent is missing from the journal still shows, at the top.
        children[op.parent_id if op.parent_id in ids else None].append(op)
    # Iterative, not recursive: a deep or wide journal (hundreds of operations) renders the same.
    pending: list[tuple[Tree, Operation]] = [(root, op) for op in reversed(children[None])]
    while pending:
        parent, op = pending.pop()
        node = parent.add(operation_label(op))
        pending.extend((node, child) for child in reversed(children.get(op.id, [])))
    return root


def kind(op: Operation) -> str:
    """What the operation is, in the words of the API (step, wait, map, ctx.now()...)."""
    if op.type is OperationType.STEP:
        return _STEP_KINDS.get(op.subtype or "", "step")
    if op.type is OperationType.CONTEXT:
        return _CONTEXT_KINDS.get(op.subtype or "", "context")
    if op.type is OperationType.CALLBACK:
        return "wait_for_event" if op.subtype == "WaitForEvent" else "callback"
    if op.type is OperationType.CHAINED_INVOKE:
        return "invoke"
    return op.type.value.lower()


def operation_label(op: Operation) -> Text:
    """One line: id, kind, name, status, attempts, timing, and the result or error."""
    label = Text.assemble((f"#{op.id} ", "dim"), kind(op))
    if op.name and op.subtype not in ("now", "random", "uuid4"):
        label.append(f" {op.name}", style="bold")
    label.append("  ")
    label.append_text(status_text(op.status))
    if op.type is OperationType.STEP and op.subtype is None and op.attempt > 1:
        label.append(f"  {op.attempt} attempts", style="yellow")
    timing = _timing(op)
    if timing:
        label.append(f"  {timing}", style="dim")
    reference = op.details.get("child_execution_id") or op.details.get("callback_id")
    if reference:
        label.append(f"  {reference}", style="cyan")
    if op.error is not None:
        label.append(f"  {error_summary(op.error)}", style="red")
    elif op.result is not None:
        label.append(f"  → {summary(op.result)}")
    return label


def _timing(op: Operation) -> str:
    if op.status is OperationStatus.PENDING and op.due_at is not None:
        return f"next attempt at {clock_time(op.due_at)}"
    if op.type is OperationType.WAIT and not op.status.finished and op.due_at is not None:
        return f"until {clock_time(op.due_at)}"
    if op.started_at is not None and op.ended_at is not None and op.subtype is None:
        return duration(op.ended_at - op.started_at)
    return ""

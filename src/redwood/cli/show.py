"""``redwood show``: one execution in full: header, operation tree, child executions, history."""

from __future__ import annotations

import time

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from redwood.app import App
from redwood.cli.blocked import describe
from redwood.cli.common import console, database_option, json_option, open_database, print_json
from redwood.cli.history import all_history, history_table
from redwood.cli.records import event_record, execution_record, operation_record
from redwood.cli.render import (
    duration,
    error_summary,
    literal,
    local_time,
    status_text,
    summary,
)
from redwood.cli.tree import operation_tree
from redwood.model import Execution, ExecutionFilter, HistoryEvent, Operation

_MAX_CHILDREN = 1000


@click.command("show")
@click.argument("execution_id", metavar="ID")
@click.option("--history/--no-history", default=True, show_default=True,
              help="Include the history table (the full event log).")
@database_option
@json_option
def show_command(execution_id: str, history: bool, database: str | None, as_json: bool) -> None:
    """Show execution ID: its outcome, operation tree, child executions and history."""
    with open_database(database) as app:
        execution = app.client.get(execution_id)
        operations = app.store.operations(execution_id)
        children = _children(app, execution_id)
        events = list(all_history(app.store, execution_id)) if history else []
        blocked = app.client.blocked_on(execution_id)
        now = app.clock.now()
    if as_json:
        data = {
            "execution": execution_record(execution),
            "blocked_on": [item.to_json() for item in blocked],
            "operations": [operation_record(op) for op in operations],
            "children": [execution_record(child) for child in children],
        }
        if history:
            data["history"] = [event_record(event) for event in events]
        print_json(data)
        return
    _print(console(), execution, operations, children, events if history else None,
           describe(blocked, now))


def _children(app: App, execution_id: str) -> list[Execution]:
    where = ExecutionFilter(parent_execution_id=execution_id, limit=_MAX_CHILDREN)
    return list(reversed(app.store.list_executions(where)))


def _print(
    out: Console, execution: Execution, operations: list[Operation], children: list[Execution],
    events: list[HistoryEvent] | None, blocked: list[str],
) -> None:
    out.print(header(execution))
    for line in blocked:
        out.print(Text.assemble(("Blocked on  ", "bold"), (line, "magenta")))
    if execution.error is not None and execution.error.traceback:
        out.print(Text(execution.error.traceback.rstrip(), style="dim"))
    out.print()
    out.print(Text(f"Operations ({len(operations)})", style="bold underline"))
    out.print(operation_tree(execution, operations))
    if children:
        out.print()
        out.print(Text(f"Child executions ({len(children)})", style="bold underline"))
        out.print(_children_table(children))
    if events is not None:
        out.print()
        out.print(Text(f"History ({len(events)} events)", style="bold underline"))
        out.print(history_table(events, execution.created_at))


def header(execution: Execution) -> Table:
    """The execution's identity, timing and outcome as a two-column grid."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    _row(grid, "Execution", Text(execution.id, style="bold"))
    _row(grid, "Function", execution.function)
    status = status_text(execution.status)
    if execution.cancel_requested and not execution.status.finished:
        status.append("  (cancel requested)", style="magenta")
    _row(grid, "Status", status)
    _row(grid, "Created", local_time(execution.created_at))
    if execution.ended_at is not None:
        _row(grid, "Ended", local_time(execution.ended_at))
        _row(grid, "Duration", duration(execution.ended_at - execution.created_at))
    else:
        _row(grid, "Running for", duration(time.time() - execution.created_at))
    _row(grid, "Invocations", str(execution.invocations))
    if execution.parent_execution_id is not None:
        _row(grid, "Parent", f"{execution.parent_execution_id} "
                             f"(operation #{execution.parent_operation_id})")
    if execution.lease_owner is not None:
        _row(grid, "Held by", f"{execution.lease_owner} until "
                              f"{local_time(execution.lease_expires_at)}")
    elif execution.ready_at is not None:
        _row(grid, "Next invocation", local_time(execution.ready_at))
    _row(grid, "Input", summary(execution.input, 200) or "null")
    if execution.result is not None:
        _row(grid, "Result", summary(execution.result, 200))
    if execution.error is not None:
        _row(grid, "Error", Text(error_summary(execution.error, 200), style="red"))
    return grid


def _row(grid: Table, label: str, value: str | Text) -> None:
    grid.add_row(label, Text(value) if isinstance(value, str) else value)


def _children_table(children: list[Execution]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "FUNCTION", "STATUS", "OPERATION", "CREATED", "DURATION"):
        table.add_column(column, no_wrap=column != "ID")
    for child in children:
        took = duration(child.ended_at - child.created_at) if child.ended_at else "running"
        table.add_row(*literal(
            child.id, child.function, status_text(child.status),
            f"#{child.parent_operation_id}" if child.parent_operation_id else "",
            local_time(child.created_at), took))
    return table

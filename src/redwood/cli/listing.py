"""``redwood list``: executions, newest first, filtered by function, status and creation time."""

from __future__ import annotations

import click
from rich.table import Table

from redwood.cli.blocked import blocked_on_option
from redwood.cli.common import console, database_option, json_option, open_database, print_json
from redwood.cli.records import execution_record
from redwood.cli.render import duration, literal, local_time, status_text
from redwood.cli.timespec import moment_option
from redwood.model import Execution, ExecutionFilter
from redwood.types import BlockedKind, ExecutionStatus

_STATUSES = ", ".join(status.value for status in ExecutionStatus)


def _statuses(values: tuple[str, ...]) -> tuple[ExecutionStatus, ...]:
    wanted: list[ExecutionStatus] = []
    for value in values:
        for word in value.split(","):
            try:
                wanted.append(ExecutionStatus(word.strip().upper()))
            except ValueError:
                raise click.BadParameter(
                    f"{word.strip()!r} is not an execution status; use one of {_STATUSES}.",
                    param_hint="--status",
                ) from None
    return tuple(dict.fromkeys(wanted))


@click.command("list")
@click.option("--function", "-f", metavar="NAME", help="Only executions of this function.")
@click.option(
    "--status", "-s", "status_words", multiple=True, metavar="STATUS",
    help=f"Only these statuses (repeat or separate with commas): {_STATUSES}.",
)
@click.option("--since", callback=moment_option, metavar="WHEN",
              help="Created at or after WHEN: ISO 8601 or an age like 30m, 1h, 2d.")
@click.option("--until", callback=moment_option, metavar="WHEN",
              help="Created before WHEN (same forms).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True,
              help="At most this many executions.")
@blocked_on_option
@database_option
@json_option
def list_command(
    function: str | None, status_words: tuple[str, ...], since: float | None,
    until: float | None, limit: int, blocked_on: str | None, database: str | None,
    as_json: bool,
) -> None:
    """List executions, newest first."""
    with open_database(database) as app:
        where = ExecutionFilter(function=function, statuses=_statuses(status_words),
                                created_after=since, created_before=until, limit=limit,
                                blocked_on=BlockedKind(blocked_on) if blocked_on else None,
                                now=app.clock.now())
        executions = app.store.list_executions(where)
    if as_json:
        print_json([execution_record(execution) for execution in executions])
        return
    _print_table(executions, limit)


def _print_table(executions: list[Execution], limit: int) -> None:
    out = console()
    if not executions:
        out.print("No executions match.", style="dim")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "FUNCTION", "STATUS", "CREATED", "DURATION", "INVOCATIONS"):
        table.add_column(column, no_wrap=column != "ID",
                         justify="right" if column == "INVOCATIONS" else "left")
    for execution in executions:
        took = duration(execution.ended_at - execution.created_at) \
            if execution.ended_at is not None else "running"
        table.add_row(*literal(execution.id, execution.function, status_text(execution.status),
                               local_time(execution.created_at), took,
                               str(execution.invocations)))
    out.print(table)
    if len(executions) == limit:
        out.print(f"(first {limit}; show more with --limit)", style="dim")

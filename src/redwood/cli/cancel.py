"""``redwood cancel``: stop an execution at its next operation."""

from __future__ import annotations

import click
from rich.text import Text

from redwood.cli.common import console, database_option, json_option, open_database, print_json
from redwood.cli.records import execution_record
from redwood.types import ExecutionStatus


@click.command("cancel")
@click.argument("execution_id", metavar="ID")
@database_option
@json_option
def cancel_command(execution_id: str, database: str | None, as_json: bool) -> None:
    """Cancel execution ID: it ends STOPPED at its next operation (at once when idle)."""
    with open_database(database) as app:
        execution = app.client.cancel(execution_id)
    if as_json:
        print_json(execution_record(execution))
        return
    if execution.status is ExecutionStatus.STOPPED:
        message = Text.assemble("Stopped execution ", (execution_id, "bold"), ".")
    else:
        message = Text.assemble(
            "Cancel requested for execution ", (execution_id, "bold"),
            ": the worker running it stops it at its next operation.",
        )
    console().print(message)

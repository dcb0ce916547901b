"""``redwood start``: start an execution of one of the app's durable functions."""

from __future__ import annotations

from typing import Any

import click
import pydantic
from rich.text import Text

from redwood.app import App
from redwood.cli.appload import load_app
from redwood.cli.common import (
    EXIT_FAILURE,
    app_database_option,
    app_option,
    console,
    json_option,
    parse_json,
    print_json,
)
from redwood.cli.records import execution_record
from redwood.cli.render import duration, error_summary
from redwood.client import ExecutionHandle
from redwood.errors import ValidationError
from redwood.model import Execution
from redwood.serde import parameter_hints
from redwood.types import ExecutionStatus


@click.command("start")
@click.argument("targets", nargs=-1, metavar="[APP] FUNCTION")
@app_option
@click.option("--input", "-i", "input_text", metavar="JSON", default=None,
              help="The function's input as JSON (default: null).")
@click.option("--id", "execution_id", metavar="ID",
              help="The execution id; starting an existing id again starts nothing new.")
@click.option("--wait", "-w", is_flag=True, help="Wait for the execution to finish.")
@click.option("--timeout", type=click.FloatRange(min=0), metavar="SECONDS",
              help="With --wait: give up after this many seconds (exit code 1).")
@app_database_option
@json_option
def start_command(
    targets: tuple[str, ...], app_spec_option: str | None, input_text: str | None,
    execution_id: str | None, wait: bool, timeout: float | None, database: str | None,
    as_json: bool,
) -> None:
    """Start FUNCTION of APP (MODULE:ATTRIBUTE; default --app or $REDWOOD_APP) and print the
    execution id; with --wait, also its result."""
    if len(targets) not in (1, 2):
        raise click.UsageError("Expected [APP] FUNCTION, e.g. `redwood start myapp:app "
                               "process_order --input '{\"id\": 42}'`.")
    if timeout is not None and not wait:
        raise click.UsageError("--timeout only applies with --wait.")
    app_spec, function = (None, targets[0]) if len(targets) == 1 else targets
    value = parse_json(input_text, "--input")
    with load_app(app_spec or app_spec_option, database) as app:
        _check_input(app, function, input_text)
        handle: ExecutionHandle[Any] = app.client.start(function, value, id=execution_id)
        execution = app.engine.wait_finished(handle.id, timeout) if wait else handle.get()
    if as_json:
        print_json({"id": handle.id, "created": handle.created,
                    "execution": execution_record(execution)})
    else:
        _print(handle.id, handle.created, execution, wait)
    if wait and execution.status is not ExecutionStatus.SUCCEEDED:
        raise click.exceptions.Exit(EXIT_FAILURE)


def _check_input(app: App, function: str, text: str | None) -> None:
    """Refuse, before anything is written, an input the function's declared type rejects."""
    durable = app.registry.get(function)
    hints = parameter_hints(durable.fn)
    if len(hints) < 2:
        if text is not None:
            raise ValidationError(
                f'Function "{function}" takes no input, but --input was given. Drop --input.',
                function=function,
            )
        return
    if hints[1] is None:
        return
    try:
        pydantic.TypeAdapter(hints[1]).validate_json(text if text is not None else "null")
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'input'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise ValidationError(
            f'The input does not fit function "{function}", which takes '
            f"{getattr(hints[1], '__name__', hints[1])}: {problems}. Fix --input.",
            function=function,
        ) from None


def _print(execution_id: str, created: bool, execution: Execution, waited: bool) -> None:
    out = console()
    if created:
        out.print(Text.assemble("Started execution ", (execution_id, "bold"), " of ",
                                (execution.function, "cyan"), "."))
    else:
        out.print(Text.assemble(
            "Execution ", (execution_id, "bold"), " already exists (ids are idempotency keys); "
            "nothing new was started."))
    if not waited:
        return
    took = duration((execution.ended_at or execution.created_at) - execution.created_at)
    if execution.status is ExecutionStatus.SUCCEEDED:
        out.print(Text(f"SUCCEEDED in {took}", style="green"))
        out.print_json(execution.result or "null")
    else:
        out.print(Text(f"{execution.status.value} after {took}: "
                       f"{error_summary(execution.error, 500)}", style="red"))

"""``redwood callback ...`` and ``redwood event send``: answer an execution from the shell, as an
outside system would (the same client calls the HTTP API makes)."""

from __future__ import annotations

import click
from rich.text import Text

from redwood.cli.common import console, database_option, open_database, parse_json

callback = click.Group("callback", help="Answer a callback an execution waits for.")


@callback.command("succeed")
@click.argument("callback_id", metavar="CALLBACK_ID")
@click.option("--payload", "payload_text", metavar="JSON", help="The result, as JSON.")
@database_option
def succeed(callback_id: str, payload_text: str | None, database: str | None) -> None:
    """Complete callback CALLBACK_ID with --payload as its result."""
    payload = parse_json(payload_text, "--payload")
    with open_database(database) as app:
        app.client.callback_success(callback_id, payload)
    _done("Completed callback", callback_id)


@callback.command("fail")
@click.argument("callback_id", metavar="CALLBACK_ID")
@click.option("--message", required=True, help="What went wrong (the waiting code sees it).")
@click.option("--error-type", default="CallbackError", show_default=True,
              help="The error type the waiting code sees.")
@database_option
def fail(callback_id: str, message: str, error_type: str, database: str | None) -> None:
    """Fail callback CALLBACK_ID: the waiting code gets CallbackFailed."""
    with open_database(database) as app:
        app.client.callback_failure(callback_id, message, error_type)
    _done("Failed callback", callback_id)


@callback.command("heartbeat")
@click.argument("callback_id", metavar="CALLBACK_ID")
@database_option
def heartbeat(callback_id: str, database: str | None) -> None:
    """Tell callback CALLBACK_ID its answer is still being worked on."""
    with open_database(database) as app:
        app.client.callback_heartbeat(callback_id)
    _done("Heartbeat sent to callback", callback_id)


event = click.Group("event", help="Send named events to executions.")


@event.command("send")
@click.argument("execution_id", metavar="ID")
@click.argument("name")
@click.option("--payload", "payload_text", metavar="JSON", help="The event's payload, as JSON.")
@database_option
def send(execution_id: str, name: str, payload_text: str | None, database: str | None) -> None:
    """Send event NAME to execution ID (kept until its next wait_for_event(NAME))."""
    payload = parse_json(payload_text, "--payload")
    with open_database(database) as app:
        app.client.send_event(execution_id, name, payload)
    _done(f'Sent event "{name}" to execution', execution_id)


def _done(what: str, target: str) -> None:
    console().print(Text.assemble(f"{what} ", (target, "bold"), "."))

"""What every command shares: the database option, ``--json``, consoles, and how a Redwood
error ends a command (its message in red, no traceback, a non-zero exit code)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.text import Text

from redwood.app import App
from redwood.errors import (
    PayloadTooLarge,
    RedwoodError,
    SerializationError,
    UnknownFunction,
    ValidationError,
)
from redwood.store.open import database_url

F = TypeVar("F", bound=Callable[..., Any])

# Exit codes: 1 for an execution or a request that did not work out, 2 for input that is wrong
# (the same code click uses for usage errors), so scripts can tell "fix the call" from "look
# at the execution".
EXIT_FAILURE = 1
EXIT_MISUSE = 2
_MISUSE = (ValidationError, UnknownFunction, SerializationError, PayloadTooLarge)


class RedwoodGroup(click.Group):
    """A command group that lists commands in the order they were added and turns Redwood errors
    into a red message and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RedwoodError as error:
            fail(str(error), EXIT_MISUSE if isinstance(error, _MISUSE) else EXIT_FAILURE)


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``message`` in red on stderr and end the command with ``code``."""
    error_console().print(Text(message, style="red"))
    raise click.exceptions.Exit(code)


def database_option(fn: F) -> F:
    """``--database/-d``: where the executions are stored."""
    return click.option(
        "--database", "-d", metavar="URL", default=None,
        help="A SQLite file, sqlite:///path or postgresql://... "
        "(default: $REDWOOD_DATABASE_URL, else ./redwood.db).",
    )(fn)


def app_database_option(fn: F) -> F:
    """``--database/-d`` for the commands that load the user's App."""
    return click.option(
        "--database", "-d", metavar="URL", default=None,
        help="Use this database (the App must be built without one: App()). Default: the "
        "App's own, which is $REDWOOD_DATABASE_URL, else ./redwood.db, unless the code names one.",
    )(fn)


def json_option(fn: F) -> F:
    """``--json``: machine-readable output for scripts."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON instead of tables (for scripts)."
    )(fn)


def app_option(fn: F) -> F:
    """``--app``: the user's App, as MODULE:ATTRIBUTE."""
    return click.option(
        "--app", "app_spec_option", metavar="MODULE:ATTRIBUTE", envvar="REDWOOD_APP",
        default=None,
        help="Your App, e.g. myapp:app, or a function returning one, e.g. myapp:create_app "
        "(default: $REDWOOD_APP).",
    )(fn)


def open_database(database: str | None) -> App:
    """An App over ``database`` with no functions: enough to read and cancel executions.

    A SQLite file that does not exist is refused rather than created: reading from a mistyped
    path should say so, not show an empty list.
    """
    url = database_url(database)
    if "://" not in url or url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
        if not os.path.exists(path):
            raise ValidationError(
                f'No Redwood database at "{path}": the file does not exist. Pass the right one '
                "with --database (-d) or $REDWOOD_DATABASE_URL.",
                database=url,
            )
    return App(database)


# Output piped to a file or another program has no width; wrapping it at 80 columns would cut
# tables into fragments that grep cannot find.
_PIPED_WIDTH = 160


def console() -> Console:
    """Human output on stdout (colour only on a terminal)."""
    out = Console(highlight=False)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = _PIPED_WIDTH
    return out


def error_console() -> Console:
    """Messages on stderr."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def parse_json(text: str | None, option: str) -> Any:
    """The JSON value given to ``option`` (None when the option was not given)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValidationError(
            f"{option} is not valid JSON ({error}). Pass a JSON document, e.g. "
            f"{option} '{{\"sku\": \"A-1\", \"quantity\": 2}}'; a string needs its quotes: "
            f"{option} '\"text\"'.",
            option=option, value=text,
        ) from None

"""The ``redwood`` command line: run workers, start executions, and look at what they did.

Each command lives in its own module; a branch that adds a command adds a module and one
``main.add_command`` line below.
"""

from __future__ import annotations

import click

from redwood.cli.cancel import cancel_command
from redwood.cli.common import RedwoodGroup
from redwood.cli.db import db
from redwood.cli.listing import list_command
from redwood.cli.outside import callback, event
from redwood.cli.serve import serve
from redwood.cli.show import show_command
from redwood.cli.start import start_command
from redwood.cli.worker import worker_command
from redwood.cli.workers import workers

__all__ = ["main"]


@click.group(cls=RedwoodGroup)
@click.version_option(package_name="redwood", prog_name="redwood")
def main() -> None:
    """Durable execution for plain Python functions: run workers, start executions, and
    inspect their journal and history."""


main.add_command(worker_command)
main.add_command(start_command)
main.add_command(list_command)
main.add_command(show_command)
main.add_command(cancel_command)
main.add_command(serve)
main.add_command(db)
main.add_command(workers)
main.add_command(callback)
main.add_command(event)

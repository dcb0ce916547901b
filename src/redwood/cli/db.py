"""``redwood db``: the database schema (``redwood db upgrade`` applies pending migrations)."""

from __future__ import annotations

import click

from redwood.store.open import ENVIRONMENT_VARIABLE, database_url, display_url
from redwood.store.open import upgrade as upgrade_schema

db = click.Group("db", help="Manage the database schema.")


@db.command("upgrade")
@click.option(
    "--database", envvar=ENVIRONMENT_VARIABLE, default=None, show_envvar=True,
    help="A SQLite path, sqlite:///path or postgresql://user@host/dbname (default ./redwood.db).",
)
def upgrade(database: str | None) -> None:
    """Apply the schema migrations the database lacks (safe to run from many hosts at once)."""
    shown = display_url(database_url(database))
    try:
        before, after = upgrade_schema(database)
    except Exception as error:
        raise click.ClickException(f"Cannot upgrade {shown}: {error}") from error
    if before == after:
        click.echo(f"{shown}: schema already at version {after}.")
    else:
        click.echo(f"{shown}: schema upgraded from version {before} to {after}.")

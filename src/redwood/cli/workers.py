"""``redwood workers``: the live workers, with their leases and load."""

from __future__ import annotations

import json
import time
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from redwood.model import LiveWorker
from redwood.store.open import ENVIRONMENT_VARIABLE, database_url, display_url, open_store

_SHOWN_LEASES = 3


@click.command("workers")
@click.option(
    "--database", envvar=ENVIRONMENT_VARIABLE, default=None, show_envvar=True,
    help="A SQLite path, sqlite:///path or postgresql://user@host/dbname (default ./redwood.db).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def workers(database: str | None, as_json: bool) -> None:
    """List the live workers (heartbeat within their lease) with their leases and load."""
    now = time.time()
    try:
        store = open_store(database)
    except Exception as error:
        shown = display_url(database_url(database))
        raise click.ClickException(f"Cannot open {shown}: {error}") from error
    try:
        live = store.list_workers(now)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([_as_json(worker) for worker in live], indent=2))
        return
    if not live:
        click.echo("No live workers.")
        return
    Console().print(_table(live, now))


def _as_json(worker: LiveWorker) -> dict[str, Any]:
    return {
        "id": worker.id, "info": worker.info, "started_at": worker.started_at,
        "heartbeat_at": worker.heartbeat_at, "leases": list(worker.leases),
        "load": round(worker.load, 4),
    }


def _table(live: list[LiveWorker], now: float) -> Table:
    table = Table(title=f"{len(live)} live worker(s)")
    for column in ("worker", "host", "pid", "load", "leases", "heartbeat", "up"):
        table.add_column(column, justify="right" if column in ("pid", "load") else "left")
    for worker in live:
        info = worker.info
        leases = ", ".join(worker.leases[:_SHOWN_LEASES])
        if len(worker.leases) > _SHOWN_LEASES:
            leases += f" (+{len(worker.leases) - _SHOWN_LEASES} more)"
        table.add_row(
            worker.id, str(info.get("host", "?")), str(info.get("pid", "?")),
            f"{info.get('in_flight', 0)}/{info.get('concurrency', '?')} ({worker.load:.0%})",
            f"{len(worker.leases)}: {leases}" if worker.leases else "0",
            f"{max(0.0, now - worker.heartbeat_at):.1f}s ago",
            _duration(now - worker.started_at),
        )
    return table


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"

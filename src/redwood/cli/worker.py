"""``redwood worker``: run a worker in the foreground until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

import click
from rich.logging import RichHandler
from rich.text import Text

from redwood.cli.appload import load_app, store_location
from redwood.cli.common import app_database_option, app_option, console, error_console
from redwood.cli.render import database_label, duration


@click.command("worker")
@click.argument("app_spec", metavar="[APP]", required=False)
@app_option
@click.option("--concurrency", "-c", type=click.IntRange(min=1), default=64, show_default=True,
              metavar="N",
              help="Invocations run at once.")
@click.option("--lease", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Lease length: how soon another worker takes over if this one dies "
              "(default: the app's, 30 s).")
@click.option("--grace", type=click.FloatRange(min=0), default=30.0, show_default=True,
              metavar="SECONDS", help="On shutdown, how long running invocations get to hand "
              "their executions back.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="warning", show_default=True, help="Log level of Redwood's loggers.")
@app_database_option
def worker_command(
    app_spec: str | None, app_spec_option: str | None, concurrency: int, lease: float | None,
    grace: float, log_level: str, database: str | None,
) -> None:
    """Run a worker for APP (MODULE:ATTRIBUTE; default --app or $REDWOOD_APP) until SIGTERM or
    Ctrl-C, which stop it gracefully: running executions are handed back, not lost."""
    logger = logging.getLogger("redwood")
    logger.setLevel(log_level.upper())
    if not any(isinstance(handler, RichHandler) for handler in logger.handlers):
        logger.addHandler(RichHandler(console=error_console()))
    with load_app(app_spec or app_spec_option, database) as app:
        worker = app.worker(concurrency=concurrency, lease_seconds=lease)
        stopping = threading.Event()
        previous = {
            signum: signal.signal(signum, _on_signal(stopping))
            for signum in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            worker.start()
            location = store_location(app.store) or type(app.store).__name__
            console().print(Text.assemble(
                ("redwood worker ", "bold"), (worker.worker_id, "cyan"),
                f" · database {database_label(location)}",
                f" · functions {', '.join(app.registry.names()) or '(none)'}",
                f" · concurrency {concurrency} · lease {duration(worker.lease_seconds)}",
            ), soft_wrap=True)
            stopping.wait()
            console().print("stopping: handing running executions back…", style="dim")
            worker.stop(grace)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    console().print(f"worker {worker.worker_id} stopped", style="dim")


def _on_signal(stopping: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            # A second signal while stopping: the user does not want to wait for the grace time.
            os._exit(128 + signum)
        stopping.set()

    return handle

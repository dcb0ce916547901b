"""``redwood serve``: the HTTP API and the dashboard for one database."""

from __future__ import annotations

import importlib
from typing import Any

import click

from redwood.app import App
from redwood.cli.appload import load_app
from redwood.cli.common import app_database_option, app_option
from redwood.errors import ValidationError
from redwood.server.security import DEFAULT_MAX_BODY, TOKEN_VARIABLE, check_binding


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback needs --token.")
@click.option("--port", default=8233, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token", envvar=TOKEN_VARIABLE, default=None,
              help=f"Bearer token required on every request (default: ${TOKEN_VARIABLE}).")
@app_database_option
@app_option
@click.option("--max-body", default=DEFAULT_MAX_BODY, show_default=True,
              type=click.IntRange(1024), help="Largest request body accepted, in bytes.")
def serve(host: str, port: int, token: str | None, database: str | None,
          app_spec_option: str | None, max_body: int) -> None:
    """Serve the HTTP API and the dashboard. With --app, executions can also be started by
    function name; without it, everything else works on the database alone."""
    try:
        check_binding(host, token)
    except ValidationError as error:
        raise click.UsageError(error.message) from None
    uvicorn, create_app = _server_modules()
    app = load_app(app_spec_option, database) if app_spec_option else App(database)
    server = create_app(app, token=token, host=host, max_body_bytes=max_body)
    where = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    access = "token required" if token else "loopback only, no token"
    click.echo(f"Redwood dashboard and API on {where} ({access})", err=True)
    try:
        uvicorn.run(server, host=host, port=port, log_level="warning")
    finally:
        app.close()


def _server_modules() -> tuple[Any, Any]:
    # The server is an optional extra: the rest of the CLI must work without it installed.
    try:
        uvicorn = importlib.import_module("uvicorn")
        asgi = importlib.import_module("redwood.server.asgi")
    except ImportError as error:
        raise click.UsageError(
            f"`redwood serve` needs the 'server' extra ({error}). Install it with: "
            "pip install 'redwood[server]'.") from None
    return uvicorn, asgi.create_app


if __name__ == "__main__":
    serve()

"""``create_app``: the Starlette application serving the API and the dashboard for one App."""

from __future__ import annotations

from importlib import metadata, resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redwood.app import App
from redwood.errors import RedwoodError
from redwood.server import api, callbacks, pages
from redwood.server.context import ServerContext
from redwood.server.errors import (
    ApiError,
    on_api_error,
    on_http_error,
    on_redwood_error,
    on_unexpected,
)
from redwood.server.guard import Guard
from redwood.server.openapi import openapi_json
from redwood.server.reads import Reads
from redwood.server.security import DEFAULT_MAX_BODY, Credentials, check_binding

# The pages load nothing from elsewhere and run no inline script: a payload that slipped past
# escaping still could not execute.
_SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def create_app(
    app: App, *, token: str | None = None, host: str = "127.0.0.1",
    max_body_bytes: int = DEFAULT_MAX_BODY,
) -> Starlette:
    """The ASGI application for ``app``. Raises ValidationError when ``host`` is not loopback
    and no ``token`` is given (see docs/dashboard.md for the rules)."""
    check_binding(host, token)
    credentials = Credentials(token)
    static = Path(str(resources.files("redwood.server").joinpath("static")))
    routes = [
        *api.ROUTES,
        *callbacks.ROUTES,
        *pages.ROUTES,
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    server = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders), Middleware(Guard, credentials=credentials,
                                                            max_body_bytes=max_body_bytes)],
        exception_handlers={ApiError: on_api_error, RedwoodError: on_redwood_error,
                            HTTPException: on_http_error, Exception: on_unexpected},
    )
    server.state.redwood = ServerContext(app, Reads(app), credentials)
    server.state.templates = pages.environment()
    server.state.version = _version()
    return server


class SecurityHeaders:
    """Adds the security headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _version() -> str:
    try:
        return metadata.version("redwood")
    except metadata.PackageNotFoundError:
        return "0"

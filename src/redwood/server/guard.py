"""The ASGI middleware in front of every route: authentication, host and origin checks, and the
request body limit."""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redwood.server.errors import ApiError, error_response
from redwood.server.security import (
    SESSION_COOKIE,
    Credentials,
    callback_id_is_unguessable,
    host_of,
    is_loopback,
)

_PUBLIC = re.compile(r"^/(static/.*|login|favicon\.ico)$")
_CALLBACK = re.compile(r"^/api/callbacks/(?P<id>[^/]+)/(succeed|fail|heartbeat)$")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AUTH_KEY = "redwood.auth"


class Guard:
    """Refuses what may not pass; everything else goes on with a size-limited body."""

    def __init__(self, app: ASGIApp, credentials: Credentials, max_body_bytes: int) -> None:
        self.app = app
        self.credentials = credentials
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        refusal = self._check(connection)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        length = connection.headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large()(scope, receive, send)
            return
        await self.app(scope, self._limited(receive), send)

    def _check(self, connection: HTTPConnection) -> Response | None:
        path = connection.url.path
        headers = connection.headers
        if not self.credentials.required:
            host = host_of(headers.get("host", ""))
            if not is_loopback(host):
                return error_response(
                    403, "forbidden",
                    f"Host {host!r} is not this machine. Without a token the server answers "
                    "only requests addressed to 127.0.0.1 or localhost (a guard against DNS "
                    "rebinding); start it with --token to serve other names.")
            connection.scope[AUTH_KEY] = "loopback"
        elif _PUBLIC.match(path):
            connection.scope[AUTH_KEY] = "public"
        elif self.credentials.bearer_ok(headers.get("authorization")):
            connection.scope[AUTH_KEY] = "bearer"
            return None
        elif self.credentials.session_ok(connection.cookies.get(SESSION_COOKIE)):
            connection.scope[AUTH_KEY] = "session"
        elif (match := _CALLBACK.match(path)) and callback_id_is_unguessable(match["id"]):
            connection.scope[AUTH_KEY] = "callback"
            return None
        else:
            return _unauthorized(connection, _CALLBACK.match(path) is not None)
        return _cross_origin(connection)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, "request_too_large", _too_large_message(limit))
            return message

        return limited

    def _too_large(self) -> Response:
        return error_response(413, "request_too_large", _too_large_message(self.max_body_bytes))


def _too_large_message(limit: int) -> str:
    return (f"The request body is above the server's limit of {limit} bytes. Send a smaller "
            "payload (store large data elsewhere and pass a reference), or start the server "
            "with a larger --max-body.")


def _unauthorized(connection: HTTPConnection, callback: bool) -> Response:
    path = connection.url.path
    page = connection.scope["method"] == "GET" and not path.startswith("/api/") \
        and path != "/openapi.json"
    if page:
        target = path + (f"?{connection.url.query}" if connection.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    message = ("This server needs a bearer token: send `Authorization: Bearer <token>` "
               "(the --token the server was started with).")
    if callback:
        message += (" A callback id alone is accepted only when it is unguessable (at least "
                    "128 random bits); this one is not, so the token is needed.")
    return error_response(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


def _cross_origin(connection: HTTPConnection) -> Response | None:
    """Browsers send ambient credentials (the session cookie, or none on an open loopback
    server); a state-changing request from another site's page must not ride on them."""
    if connection.scope["method"] in _SAFE_METHODS:
        return None
    origin = connection.headers.get("origin")
    if origin is None:
        return None
    if urlsplit(origin).netloc != connection.headers.get("host", ""):
        return error_response(403, "forbidden",
                              f"Cross-origin request from {origin!r} refused: the dashboard "
                              "and the API must be used from the server's own origin.")
    return None


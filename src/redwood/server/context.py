"""What every route handler needs, kept on the Starlette application's state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from redwood.app import App
from redwood.client import Client
from redwood.server.errors import ApiError
from redwood.server.reads import Reads
from redwood.server.security import Credentials


@dataclass(frozen=True, slots=True)
class ServerContext:
    """The Redwood app behind the server, its read queries, and the server's credentials."""

    app: App
    reads: Reads
    credentials: Credentials

    @property
    def client(self) -> Client:
        """The app's client (start, cancel, events, callbacks)."""
        return self.app.client


def context(request: Request) -> ServerContext:
    """The server context of the application handling ``request``."""
    found: ServerContext = request.app.state.redwood
    return found


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object ({} for an empty body); 415 unless sent as application/json.

    Requiring the JSON media type also keeps other sites' pages out: a browser sends it
    cross-origin only after a preflight, which this server never grants.
    """
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise ApiError(415, "unsupported_media_type",
                       f"Send the request body as JSON with `Content-Type: application/json` "
                       f"(got {media or 'no content type'!r}).")
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise ApiError(400, "invalid_json", f"The request body is not valid JSON: {error}.") \
            from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request",
                       f"The request body must be a JSON object, got {type(body).__name__}.")
    return body


def text_field(
    body: dict[str, Any], name: str, *, required: bool, max_length: int = 256
) -> str | None:
    """A string member of a request body, checked."""
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, "invalid_request",
                           f"The request body needs a {name!r} string member.", field=name)
        return None
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise ApiError(400, "invalid_request",
                       f"Member {name!r} must be a non-empty string of at most {max_length} "
                       f"characters, got {json.dumps(value)[:80]}.", field=name)
    return value


def check_members(body: dict[str, Any], allowed: set[str]) -> None:
    """Refuse members the endpoint does not know (a typo must not be ignored silently)."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "invalid_request",
                       f"Unknown member(s) {', '.join(map(repr, unknown))} in the request body; "
                       f"this endpoint accepts {', '.join(sorted(allowed)) or 'none'}.",
                       fields=unknown)

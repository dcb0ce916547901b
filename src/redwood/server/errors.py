"""Errors as JSON: ``{"error": {"code": ..., "message": ...}}`` with stable codes and statuses."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from redwood import errors

# Redwood's errors by consequence -> (HTTP status, stable code). Looked up along the MRO, so a
# subclass added later inherits its parent's answer until it gets its own line.
_BY_TYPE: dict[type[errors.RedwoodError], tuple[int, str]] = {
    errors.UnknownExecution: (404, "unknown_execution"),
    errors.UnknownFunction: (422, "unknown_function"),
    errors.UnknownCallback: (404, "unknown_callback"),
    errors.CallbackAlreadyCompleted: (409, "callback_already_completed"),
    errors.ExecutionConflict: (409, "execution_conflict"),
    errors.PayloadTooLarge: (413, "payload_too_large"),
    errors.SerializationError: (422, "serialization_error"),
    errors.ValidationError: (422, "validation_error"),
    errors.ResultTimeout: (504, "result_timeout"),
}
_HTTP_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "request_too_large",
               415: "unsupported_media_type"}


class ApiError(Exception):
    """A refused request: the HTTP status, a stable code, and a message naming the fix."""

    def __init__(self, status: int, code: str, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


def error_body(code: str, message: str, **fields: Any) -> dict[str, Any]:
    """The JSON body of every error answer."""
    body: dict[str, Any] = {"code": code, "message": message}
    body.update(fields)
    return {"error": body}


def error_response(status: int, code: str, message: str,
                   headers: dict[str, str] | None = None, **fields: Any) -> JSONResponse:
    """An error answer."""
    return JSONResponse(error_body(code, message, **fields), status_code=status, headers=headers)


def status_and_code(error: errors.RedwoodError) -> tuple[int, str]:
    """The HTTP status and code for one of Redwood's errors."""
    for cls in type(error).__mro__:
        found = _BY_TYPE.get(cls)
        if found is not None:
            return found
    return 400, "redwood_error"


def _wants_page(request: Request) -> bool:
    path = request.url.path
    return request.method == "GET" and not path.startswith("/api/") \
        and path != "/openapi.json" and "text/html" in request.headers.get("accept", "")


def _page(request: Request, status: int, code: str, message: str) -> Response:
    template = request.app.state.templates.get_template("error.html")
    html = template.render(request=request, status=status, code=code, message=message)
    return HTMLResponse(html, status_code=status)


async def on_api_error(request: Request, error: Exception) -> Response:
    """Starlette exception handler for ApiError."""
    assert isinstance(error, ApiError)
    if _wants_page(request):
        return _page(request, error.status, error.code, error.message)
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return error_response(error.status, error.code, error.message, headers, **error.fields)


async def on_redwood_error(request: Request, error: Exception) -> Response:
    """Starlette exception handler for RedwoodError: the typed error becomes a stable code."""
    assert isinstance(error, errors.RedwoodError)
    status, code = status_and_code(error)
    if _wants_page(request):
        return _page(request, status, code, error.message)
    return error_response(status, code, error.message)


async def on_http_error(request: Request, error: Exception) -> Response:
    """Starlette's own 404/405 as JSON too."""
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    message = {404: f"No route for {request.url.path!r}; see /openapi.json for the API.",
               405: f"{request.method} is not allowed on {request.url.path!r}."}.get(
                   error.status_code, str(error.detail))
    if _wants_page(request):
        return _page(request, error.status_code, code, message)
    return error_response(error.status_code, code, message, dict(error.headers or {}))


async def on_unexpected(request: Request, error: Exception) -> Response:
    """Anything else: a 500 that names no internals (the server log has the traceback)."""
    return error_response(500, "internal_error",
                          "The server failed while handling this request; see its log.")

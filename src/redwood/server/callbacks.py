"""Completing callbacks from outside: succeed, fail, heartbeat (by callback id)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from redwood.server.context import check_members, context, json_body, text_field

MAX_MESSAGE = 4096


async def succeed(request: Request) -> Response:
    """POST /api/callbacks/{id}/succeed: complete the callback with an optional payload."""
    body = await json_body(request)
    check_members(body, {"payload"})
    callback_id = request.path_params["callback_id"]
    await run_in_threadpool(context(request).client.callback_success, callback_id,
                            body.get("payload"))
    return _answer(callback_id, "succeeded")


async def fail(request: Request) -> Response:
    """POST /api/callbacks/{id}/fail: fail the callback with a message and an error type."""
    body = await json_body(request)
    check_members(body, {"message", "error_type"})
    callback_id = request.path_params["callback_id"]
    message = text_field(body, "message", required=True, max_length=MAX_MESSAGE)
    error_type = text_field(body, "error_type", required=False) or "CallbackError"
    assert message is not None
    await run_in_threadpool(context(request).client.callback_failure, callback_id, message,
                            error_type)
    return _answer(callback_id, "failed")


async def heartbeat(request: Request) -> Response:
    """POST /api/callbacks/{id}/heartbeat: the worker on the other side is still at it."""
    check_members(await json_body(request), set())
    callback_id = request.path_params["callback_id"]
    await run_in_threadpool(context(request).client.callback_heartbeat, callback_id)
    return _answer(callback_id, "heartbeat")


def _answer(callback_id: str, outcome: str) -> Response:
    return JSONResponse({"callback_id": callback_id, "outcome": outcome}, status_code=202)


ROUTES = [
    Route("/api/callbacks/{callback_id}/succeed", succeed, methods=["POST"]),
    Route("/api/callbacks/{callback_id}/fail", fail, methods=["POST"]),
    Route("/api/callbacks/{callback_id}/heartbeat", heartbeat, methods=["POST"]),
]

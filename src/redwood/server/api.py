"""The JSON API over executions: start, list, get, operations, history, cancel, send an event."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from redwood.client import ExecutionHandle
from redwood.server.context import check_members, context, json_body, text_field
from redwood.server.query import execution_filter, history_query
from redwood.server.views import (
    event_json,
    execution_detail,
    execution_summary,
    operation_json,
)


async def start_execution(request: Request) -> Response:
    """POST /api/executions: 201 with the new execution, 200 when the id already existed."""
    body = await json_body(request)
    check_members(body, {"function", "input", "id"})
    function = text_field(body, "function", required=True)
    execution_id = text_field(body, "id", required=False)
    ctx = context(request)
    assert function is not None
    handle: ExecutionHandle[Any] = await run_in_threadpool(
        ctx.client.start, function, body.get("input"), id=execution_id)
    view = await run_in_threadpool(ctx.reads.view, handle.id)
    detail = execution_detail(view.execution, ctx.reads.now(), view.blocked, view.children)
    return JSONResponse(detail, status_code=201 if handle.created else 200)


def list_executions(request: Request) -> Response:
    """GET /api/executions: one page, newest first, and the cursor of the next one."""
    reads = context(request).reads
    now = reads.now()
    page = reads.page(execution_filter(request.query_params, now))
    return JSONResponse({"executions": [execution_summary(e, now) for e in page.executions],
                         "next_cursor": page.next_cursor})


def count_executions(request: Request) -> Response:
    """GET /api/counts: matching executions per status (status filter ignored)."""
    reads = context(request).reads
    where = execution_filter(request.query_params, reads.now())
    counts = reads.counts(where)
    return JSONResponse({"counts": counts, "total": sum(counts.values())})


def get_execution(request: Request) -> Response:
    """GET /api/executions/{id}: the execution, its payloads, blocked-on and children."""
    reads = context(request).reads
    view = reads.view(request.path_params["execution_id"])
    return JSONResponse(execution_detail(view.execution, reads.now(), view.blocked,
                                         view.children))


def list_operations(request: Request) -> Response:
    """GET /api/executions/{id}/operations: the journal in recorded order."""
    ctx = context(request)
    execution_id = request.path_params["execution_id"]
    ctx.client.get(execution_id)
    operations = ctx.reads.store.operations(execution_id)
    return JSONResponse({"operations": [operation_json(op) for op in operations]})


def list_history(request: Request) -> Response:
    """GET /api/executions/{id}/history: one page of events, oldest first."""
    reads = context(request).reads
    page = reads.history(request.path_params["execution_id"], history_query(request.query_params))
    return JSONResponse({"events": [event_json(e) for e in page.events],
                         "next_after": page.next_after})


async def cancel_execution(request: Request) -> Response:
    """POST /api/executions/{id}/cancel: stop it at its next operation (at once when idle)."""
    check_members(await json_body(request), set())
    ctx = context(request)
    execution_id = request.path_params["execution_id"]
    await run_in_threadpool(ctx.client.cancel, execution_id)
    view = await run_in_threadpool(ctx.reads.view, execution_id)
    return JSONResponse(execution_detail(view.execution, ctx.reads.now(), view.blocked,
                                         view.children))


async def send_event(request: Request) -> Response:
    """POST /api/executions/{id}/events/{name}: deliver a named event with an optional payload."""
    body = await json_body(request)
    check_members(body, {"payload"})
    ctx = context(request)
    execution_id = request.path_params["execution_id"]
    name = request.path_params["name"]
    await run_in_threadpool(ctx.client.send_event, execution_id, name, body.get("payload"))
    return JSONResponse({"execution_id": execution_id, "event": name, "delivered": True},
                        status_code=202)


ROUTES = [
    Route("/api/executions", start_execution, methods=["POST"]),
    Route("/api/executions", list_executions, methods=["GET"]),
    Route("/api/counts", count_executions, methods=["GET"]),
    # Execution ids may contain "/": the suffixed routes come first and match greedily.
    Route("/api/executions/{execution_id:path}/operations", list_operations, methods=["GET"]),
    Route("/api/executions/{execution_id:path}/history", list_history, methods=["GET"]),
    Route("/api/executions/{execution_id:path}/cancel", cancel_execution, methods=["POST"]),
    Route("/api/executions/{execution_id:path}/events/{name}", send_event, methods=["POST"]),
    Route("/api/executions/{execution_id:path}", get_execution, methods=["GET"]),
]

"""The dashboard: server-rendered pages (Jinja2, autoescaped) over the same reads as the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from redwood.engine.blocked import kind_now
from redwood.model import Execution
from redwood.present import duration, stored_value
from redwood.server import fragments, timeline
from redwood.server.context import context, json_body
from redwood.server.errors import ApiError
from redwood.server.query import execution_filter, history_query
from redwood.server.security import SESSION_COOKIE
from redwood.types import BlockedKind, ExecutionStatus

_FILTER_KEYS = ("function", "status", "blocked_on", "created_after", "created_before",
                "id_contains", "limit")


def environment() -> Environment:
    """The template environment: autoescaping on, so user payloads are always text."""
    env = Environment(loader=PackageLoader("redwood.server", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(ts=format_time, dur=duration, pretty=pretty_json,
                       stored=stored_value, pathpart=lambda text: quote(str(text), safe=""))
    env.globals.update(statuses=list(ExecutionStatus), blocked_kinds=list(BlockedKind),
                       gantt_rows=fragments.gantt_rows, operation_rows=fragments.operation_rows,
                       history_rows=fragments.history_rows)
    return env


def format_time(value: float | None) -> str:
    """Epoch seconds as UTC text (the page's script shows it in local time)."""
    if value is None:
        return "—"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S") + "Z"


def pretty_json(value: Any) -> str:
    """A JSON value indented for reading (escaped by the template like any text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    env: Environment = request.app.state.templates
    html = env.get_template(template).render(request=request, **values)
    return HTMLResponse(html, status_code=status)


def list_page(request: Request) -> Response:
    """GET /: executions with status counts, filters, paging and live refresh."""
    reads = context(request).reads
    now = reads.now()
    where = execution_filter(request.query_params, now)
    page = reads.page(where)
    counts = reads.counts(where)
    filters = {key: request.query_params.get(key, "") for key in _FILTER_KEYS}
    base = {k: v for k, v in filters.items() if v}
    unfiltered = {k: v for k, v in base.items() if k != "status"}
    next_url = "/?" + urlencode({**base, "cursor": page.next_cursor}) if page.next_cursor else None
    return _render(
        request, "list.html", page=page, counts=counts, filters=filters, now=now,
        functions=context(request).app.registry.names(), next_url=next_url,
        first_url="/?" + urlencode(base), paged="cursor" in request.query_params,
        total=sum(counts.values()), first_url_without_status="/?" + urlencode(unfiltered),
        status_urls={s.value: "/?" + urlencode({**unfiltered, "status": s.value})
                     for s in ExecutionStatus},
        kinds={e.id: _kind(kind_now(e, now)) for e in page.executions},
    )


def execution_page(request: Request) -> Response:
    """GET /executions/{id}: header, actions, blocked-on, timeline, tree, history, payloads."""
    reads = context(request).reads
    execution_id = request.path_params["execution_id"]
    view = reads.view(execution_id)
    now = reads.now()
    query = history_query(request.query_params)
    history = reads.history(execution_id, query, view.operations)
    retried = timeline.needs_history(view.operations)
    chart_events = reads.store.operation_history(execution_id, retried) if retried else []
    chart = timeline.build(view.execution, view.operations, chart_events, now)
    execution = view.execution
    return _render(
        request, "execution.html", view=view, execution=execution, now=now, chart=chart,
        signature=signature(execution, now),
        history=history, history_filter=query.only.value,
        input=stored_value(execution.input), result=stored_value(execution.result),
        parent_id=execution.parent_execution_id,
        callbacks=[b for b in view.blocked if b.kind is BlockedKind.CALLBACK],
        events=[b for b in view.blocked if b.kind is BlockedKind.EVENT],
    )


def signature(execution: Execution, now: float) -> str:
    """What the page's script compares to notice that the execution moved on."""
    return f"{execution.status.value}/{execution.invocations}/{_kind(kind_now(execution, now))}"


def _kind(kind: BlockedKind | None) -> str:
    return kind.value if kind is not None else ""


def error_page(request: Request, status: int, code: str, message: str) -> HTMLResponse:
    """An error shown as a page (for browsers on dashboard routes)."""
    return _render(request, "error.html", status=status, code=code, message=message)


def login_page(request: Request) -> Response:
    """GET /login: the token form (only shown when the server has a token)."""
    target = request.query_params.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    return _render(request, "login.html", target=target)


async def login(request: Request) -> Response:
    """POST /login {"token"}: sets the dashboard's session cookie."""
    body = await json_body(request)
    credentials = context(request).credentials
    token = body.get("token")
    if not credentials.required:
        return JSONResponse({"ok": True})
    if not isinstance(token, str) or not credentials.token_ok(token):
        raise ApiError(401, "unauthorized", "That is not the server's token.")
    response = JSONResponse({"ok": True})
    response.set_cookie(SESSION_COOKIE, credentials.session_value(), httponly=True,
                        samesite="strict", path="/")
    return response


def logout(request: Request) -> Response:
    """POST /logout: forget the session cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


ROUTES = [
    Route("/", list_page, methods=["GET"]),
    Route("/executions/{execution_id:path}", execution_page, methods=["GET"]),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]

"""The dashboard's server side: pages render from the store, user data stays text, and the
OpenAPI document describes every API route."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from redwood import App, ManualClock
from redwood.server import create_app
from server.server_support import TOKEN

pytestmark = pytest.mark.every_store


def _drain(app: App) -> None:
    app.worker().drain()


def test_openapi_describes_every_api_route_and_nothing_else(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    described = {(path, method.upper()) for path, item in document["paths"].items()
                 for method in item}
    served = set()
    for route in api.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and (route.path.startswith("/api/")
                                         or route.path == "/openapi.json"):
            path = re.sub(r"\{(\w+):path\}", r"{\1}", route.path)
            served |= {(path, method) for method in route.methods or () if method != "HEAD"}
    assert described == served
    for path, item in document["paths"].items():
        for operation in item.values():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == set(re.findall(r"\{(\w+)\}", path)), path
            assert operation["responses"], path
    refs = re.findall(r'"#/components/schemas/(\w+)"', api.get("/openapi.json").text)
    assert set(refs) <= set(document["components"]["schemas"])


def test_a_script_in_a_payload_is_shown_as_text(api: TestClient, app: App) -> None:
    script = "<script>alert('pwned')</script>"
    app.start("echo", {"note": script}, id=f"x{script}")
    _drain(app)
    page = api.get("/executions/x%3Cscript%3Ealert('pwned')%3C%2Fscript%3E")
    assert page.status_code == 200
    assert script not in page.text
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page.text
    listing = api.get("/")
    assert script not in listing.text and "&lt;script&gt;" in listing.text
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/dashboard.js" defer>']


def test_an_error_message_with_markup_is_escaped(api: TestClient, app: App) -> None:
    app.start("broken", id="b")
    _drain(app)
    page = api.get("/executions/b").text
    assert "the <b>widget</b>" not in page and "the &lt;b&gt;widget&lt;/b&gt;" in page
    assert "Traceback" in page


def test_list_page_shows_counts_filters_and_pages(api: TestClient, app: App,
                                                  clock: ManualClock) -> None:
    for i in range(60):
        app.start("echo", i, id=f"job-{i:02d}")
        clock.advance(1)
    app.start("sleeper", id="napper")
    _drain(app)
    first = api.get("/")
    assert first.status_code == 200
    assert 'data-count="SUCCEEDED">60<' in first.text and 'data-count="RUNNING">1<' in first.text
    assert first.text.count('<a class="mono" href="/executions/') == 50
    older = re.search(r'id="older" href="([^"]+)"', first.text)
    assert older is not None
    second = api.get(older.group(1).replace("&amp;", "&"))
    assert second.text.count('<a class="mono" href="/executions/') == 11
    assert "job-00" in second.text and "job-59" not in second.text
    filtered = api.get("/?blocked_on=timer")
    assert "napper" in filtered.text and "job-01" not in filtered.text
    assert '<option value="timer" selected>' in filtered.text


def test_execution_page_shows_blocked_on_timeline_tree_and_history(
    api: TestClient, app: App, clock: ManualClock
) -> None:
    app.start("order", {}, id="o")
    _drain(app)
    clock.advance(6)
    _drain(app)
    page = api.get("/executions/o").text
    assert 'data-kind="retry"' in page and "card network unreachable" in page
    assert page.count('class="gantt-row"') == 2
    assert 'class="seg seg-failed"' in page and 'class="seg seg-backoff"' in page
    assert 'id="op-2"' in page and "StepFailed" in page
    assert 'id="cancel-button"' in page


def test_unknown_execution_page_is_an_html_404(api: TestClient) -> None:
    page = api.get("/executions/ghost", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "unknown execution" in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_login_page_keeps_only_local_targets(app: App, functions: Any) -> None:
    with TestClient(create_app(app, token=TOKEN), base_url="http://127.0.0.1") as client:
        local = client.get("/login?next=/executions/a").text
        assert 'data-next="/executions/a"' in local
        assert 'data-next="/"' in client.get("/login?next=//evil.example/").text

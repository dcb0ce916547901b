"""Events and callbacks through the HTTP API, and the blocked-on kinds the real SDK
operations produce."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from redwood import App, DurableContext, ManualClock
from redwood.server import create_app
from server.server_support import TOKEN, error_code

pytestmark = pytest.mark.every_store


@pytest.fixture
def waiters(app: App) -> dict[str, Any]:
    @app.function
    def approval(ctx: DurableContext) -> Any:
        callback = ctx.create_callback(name="manager", timeout=3600, heartbeat_timeout=600)
        return callback.result()

    @app.function
    def shipping(ctx: DurableContext) -> Any:
        return ctx.wait_for_event("shipped", timeout=86_400)

    return {"approval": approval, "shipping": shipping}


def _callback_id(api: TestClient, execution_id: str) -> str:
    [blocked] = api.get(f"/api/executions/{execution_id}").json()["blocked"]
    assert blocked["kind"] == "callback"
    return str(blocked["details"]["callback_id"])


def test_a_callback_is_completed_through_the_api(
    api: TestClient, app: App, waiters: Any, clock: ManualClock
) -> None:
    app.start("approval", id="a")
    app.worker().drain()
    body = api.get("/api/executions/a").json()
    assert body["blocked_on"] == "callback"
    [blocked] = body["blocked"]
    assert blocked["name"] == "manager" and blocked["until"] == clock.now() + 3600
    assert blocked["details"]["heartbeat_timeout"] == 600
    callback_id = _callback_id(api, "a")
    clock.advance(30)
    beat = api.post(f"/api/callbacks/{callback_id}/heartbeat", json={})
    assert beat.status_code == 202 and beat.json()["outcome"] == "heartbeat"
    assert _blocked(api, "a")["details"]["last_heartbeat_at"] == clock.now()
    done = api.post(f"/api/callbacks/{callback_id}/succeed", json={"payload": {"ok": True}})
    assert done.status_code == 202
    assert api.get("/api/executions/a").json()["blocked_on"] == "ready"
    again = api.post(f"/api/callbacks/{callback_id}/fail", json={"message": "too late"})
    assert again.status_code == 409 and error_code(again) == "callback_already_completed"
    app.worker().drain()
    assert api.get("/api/executions/a").json()["result"] == {"ok": True}
    ended = api.post(f"/api/callbacks/{callback_id}/heartbeat", json={})
    assert ended.status_code == 409 and error_code(ended) == "execution_conflict"


def _blocked(api: TestClient, execution_id: str) -> dict[str, Any]:
    return dict(api.get(f"/api/executions/{execution_id}").json()["blocked"][0])


def test_a_callback_fails_with_a_message_and_type(api: TestClient, app: App,
                                                  waiters: Any) -> None:
    app.start("approval", id="a")
    app.worker().drain()
    callback_id = _callback_id(api, "a")
    missing = api.post(f"/api/callbacks/{callback_id}/fail", json={})
    assert missing.status_code == 400 and error_code(missing) == "invalid_request"
    failed = api.post(f"/api/callbacks/{callback_id}/fail",
                      json={"message": "rejected by <i>Bob</i>", "error_type": "Rejected"})
    assert failed.status_code == 202
    app.worker().drain()
    body = api.get("/api/executions/a").json()
    assert body["status"] == "FAILED" and "rejected by <i>Bob</i>" in body["error"]["message"]


def test_an_unknown_callback_is_404(api: TestClient) -> None:
    response = api.post("/api/callbacks/nope/succeed", json={})
    assert response.status_code == 404 and error_code(response) == "unknown_callback"


def test_a_callback_id_alone_completes_its_callback_on_a_secured_server(
    app: App, waiters: Any
) -> None:
    app.start("approval", id="a")
    app.worker().drain()
    server = create_app(app, token=TOKEN, host="0.0.0.0")
    with TestClient(server, base_url="http://redwood.internal") as client:
        callback_id = app.client.blocked_on("a")[0].details["callback_id"]
        response = client.post(f"/api/callbacks/{callback_id}/succeed", json={"payload": 7})
        assert response.status_code == 202
        assert client.get("/api/executions/a").status_code == 401
    app.worker().drain()
    assert app.client.get("a").result == "7"


def test_an_event_is_sent_through_the_api(api: TestClient, app: App, waiters: Any,
                                          clock: ManualClock) -> None:
    app.start("shipping", id="s")
    app.worker().drain()
    [blocked] = api.get("/api/executions/s").json()["blocked"]
    assert blocked["kind"] == "event" and blocked["details"]["event"] == "shipped"
    assert blocked["until"] == clock.now() + 86_400
    assert [e["id"] for e in api.get("/api/executions?blocked_on=event").json()["executions"]] \
        == ["s"]
    sent = api.post("/api/executions/s/events/shipped", json={"payload": {"carrier": "DHL"}})
    assert sent.status_code == 202 and sent.json() == {"execution_id": "s", "event": "shipped",
                                                       "delivered": True}
    app.worker().drain()
    assert api.get("/api/executions/s").json()["result"] == {"carrier": "DHL"}
    late = api.post("/api/executions/s/events/shipped", json={})
    assert late.status_code == 409 and error_code(late) == "execution_conflict"
    unknown = api.post("/api/executions/ghost/events/shipped", json={})
    assert unknown.status_code == 404 and error_code(unknown) == "unknown_execution"

"""The JSON API over a real SQLite file: every endpoint, its answers and its errors."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from starlette.testclient import TestClient

from redwood import App, ManualClock
from redwood.server import create_app
from server.server_support import error_code

pytestmark = pytest.mark.every_store


def _drain(app: App) -> None:
    app.worker().drain()


# --- start --------------------------------------------------------------------------------------


def test_start_creates_once_then_answers_200_for_the_same_id(api: TestClient, app: App) -> None:
    first = api.post("/api/executions", json={"function": "echo", "input": {"n": 1}, "id": "e-1"})
    again = api.post("/api/executions", json={"function": "echo", "input": {"n": 2}, "id": "e-1"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["input"] == {"n": 1} and again.json()["input"] == {"n": 1}
    assert first.json()["blocked_on"] == "ready"
    _drain(app)
    assert api.get("/api/executions/e-1").json()["result"] == {"n": 1}


def test_start_generates_an_id_when_none_is_given(api: TestClient) -> None:
    response = api.post("/api/executions", json={"function": "echo", "input": 5})
    assert response.status_code == 201
    assert len(response.json()["id"]) >= 32


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"function": "nope"}, 422, "unknown_function"),
    ({"input": 1}, 400, "invalid_request"),
    ({"function": "echo", "colour": "red"}, 400, "invalid_request"),
    ({"function": "echo", "id": "has space"}, 422, "validation_error"),
    ({"function": 7}, 400, "invalid_request"),
])
def test_start_refuses_bad_requests_with_stable_codes(
    api: TestClient, body: dict[str, Any], status: int, code: str
) -> None:
    response = api.post("/api/executions", json=body)
    assert response.status_code == status
    assert error_code(response) == code


def test_start_needs_a_json_object_sent_as_json(api: TestClient) -> None:
    as_form = api.post("/api/executions", data={"function": "echo"})
    assert as_form.status_code == 415 and error_code(as_form) == "unsupported_media_type"
    broken = api.post("/api/executions", content=b"{nope",
                      headers={"content-type": "application/json"})
    assert broken.status_code == 400 and error_code(broken) == "invalid_json"
    array = api.post("/api/executions", json=[1, 2])
    assert array.status_code == 400 and error_code(array) == "invalid_request"


def test_request_bodies_above_the_limit_are_refused_with_413(app: App, functions: Any) -> None:
    with TestClient(create_app(app, max_body_bytes=2048), base_url="http://127.0.0.1") as small:
        declared = small.post("/api/executions", json={"function": "echo", "input": "x" * 4096})
        assert declared.status_code == 413 and error_code(declared) == "request_too_large"

        def chunks() -> Any:  # no Content-Length: the limit is enforced while reading
            yield b'{"function": "echo", "input": "'
            for _ in range(8):
                yield b"y" * 512
            yield b'"}'

        streamed = small.post("/api/executions", content=chunks(),
                              headers={"content-type": "application/json"})
        assert streamed.status_code == 413 and error_code(streamed) == "request_too_large"
    assert app.client.list() == []


def test_a_payload_above_the_apps_limit_is_413_payload_too_large(
    tmp_path: Any, clock: ManualClock
) -> None:
    with App(tmp_path / "small.db", clock=clock, max_payload_bytes=100) as small_app:
        @small_app.function
        def echo(ctx: Any, value: Any) -> Any:
            return value

        with TestClient(create_app(small_app), base_url="http://127.0.0.1") as client:
            response = client.post("/api/executions", json={"function": "echo", "input": "z" * 500})
            assert response.status_code == 413 and error_code(response) == "payload_too_large"
            assert "max_payload_bytes" in response.json()["error"]["message"]


# --- get, operations, history -------------------------------------------------------------------


def test_get_shows_payloads_error_and_traceback(api: TestClient, app: App) -> None:
    api.post("/api/executions", json={"function": "broken", "id": "b-1"})
    _drain(app)
    body = api.get("/api/executions/b-1").json()
    assert body["status"] == "FAILED" and body["blocked"] == [] and body["blocked_on"] is None
    assert "the <b>widget</b> exploded" in body["error"]["message"]
    assert "Traceback" in body["error"]["traceback"]


def test_unknown_execution_is_404_on_every_execution_route(api: TestClient) -> None:
    for path in ("", "/operations", "/history"):
        response = api.get(f"/api/executions/ghost{path}")
        assert response.status_code == 404 and error_code(response) == "unknown_execution"
    cancel = api.post("/api/executions/ghost/cancel", json={})
    assert cancel.status_code == 404 and error_code(cancel) == "unknown_execution"


def test_ids_with_slashes_reach_their_execution(api: TestClient, app: App) -> None:
    api.post("/api/executions", json={"function": "sleeper", "id": "tenant/a/42"})
    _drain(app)
    assert api.get("/api/executions/tenant/a/42").json()["id"] == "tenant/a/42"
    ops = api.get("/api/executions/tenant/a/42/operations").json()["operations"]
    assert [op["name"] for op in ops] == ["nap"]


def test_operations_come_in_recorded_order_with_results(api: TestClient, app: App,
                                                         clock: ManualClock) -> None:
    api.post("/api/executions", json={"function": "order", "input": {}, "id": "o-1"})
    _drain(app)
    clock.advance(6)
    _drain(app)
    clock.advance(11)
    _drain(app)
    ops = api.get("/api/executions/o-1/operations").json()["operations"]
    assert [(op["id"], op["name"], op["status"]) for op in ops] == [
        ("1", "reserve", "SUCCEEDED"), ("2", "charge", "SUCCEEDED"), ("3", "cool_down", "STARTED")]
    assert ops[0]["result"] == "reserved" and ops[1]["attempt"] == 3


def test_history_pages_oldest_first_and_filters_failed_and_pending(
    api: TestClient, app: App, clock: ManualClock
) -> None:
    api.post("/api/executions", json={"function": "order", "input": {}, "id": "o-2"})
    _drain(app)
    clock.advance(6)
    _drain(app)
    clock.advance(11)
    _drain(app)
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        page = api.get(f"/api/executions/o-2/history?after={after}&limit=4").json()
        events.extend(page["events"])
        if page["next_after"] is None:
            break
        after = page["next_after"]
    everything = api.get("/api/executions/o-2/history?limit=1000").json()["events"]
    assert events == everything and [e["id"] for e in events] == sorted(e["id"] for e in events)
    failed = api.get("/api/executions/o-2/history?filter=failed").json()["events"]
    assert [e["type"] for e in failed] == ["StepFailed", "StepFailed"]
    assert failed[0]["details"]["retry"]["next_attempt_at"] is not None
    pending = api.get("/api/executions/o-2/history?filter=pending").json()["events"]
    assert [(e["type"], e["name"]) for e in pending] == [("WaitStarted", "cool_down")]


@pytest.mark.parametrize("query", ["after=-1", "limit=0", "limit=5000", "filter=odd", "after=x"])
def test_history_rejects_bad_parameters_naming_them(api: TestClient, app: App, query: str) -> None:
    api.post("/api/executions", json={"function": "echo", "id": "h"})
    response = api.get(f"/api/executions/h/history?{query}")
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    assert response.json()["error"]["parameter"] == query.split("=")[0]


# --- list and counts ----------------------------------------------------------------------------


def _start_many(api: TestClient, clock: ManualClock, count: int, function: str = "echo",
                prefix: str = "job") -> list[str]:
    ids = []
    for i in range(count):
        ids.append(f"{prefix}-{i:02d}")
        body: dict[str, Any] = {"function": function, "id": ids[-1]}
        if function != "sleeper":  # sleeper takes no input
            body["input"] = i
        assert api.post("/api/executions", json=body).status_code == 201
        clock.advance(1)
    return ids


def test_list_pages_newest_first_with_a_keyset_cursor(api: TestClient, clock: ManualClock) -> None:
    ids = _start_many(api, clock, 7)
    seen: list[str] = []
    url = "/api/executions?limit=3"
    pages = 0
    while url:
        page = api.get(url).json()
        seen.extend(e["id"] for e in page["executions"])
        pages += 1
        url = f"/api/executions?limit=3&cursor={page['next_cursor']}" if page["next_cursor"] else ""
    assert seen == list(reversed(ids)) and pages == 3


def test_list_filters_by_function_status_id_and_time(
    api: TestClient, app: App, clock: ManualClock
) -> None:
    start = clock.now()
    _start_many(api, clock, 3, "echo", "alpha")
    _start_many(api, clock, 2, "sleeper", "beta")
    _drain(app)

    def ids(query: str) -> list[str]:
        response = api.get(f"/api/executions?{query}")
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["executions"]]

    assert ids("function=sleeper") == ["beta-01", "beta-00"]
    assert ids("status=SUCCEEDED") == ["alpha-02", "alpha-01", "alpha-00"]
    assert ids("status=running,succeeded&id_contains=a-0") == ["beta-01", "beta-00", "alpha-02",
                                                                 "alpha-01", "alpha-00"]
    assert ids("id_contains=ta-01") == ["beta-01"]
    assert ids(f"created_after={start + 1}&created_before={start + 3}") == ["alpha-02", "alpha-01"]
    iso = "2027-01-15T08:00:02Z"  # start + 2 on the manual clock
    assert ids(f"created_after={iso}&function=echo") == ["alpha-02"]
    assert ids("blocked_on=timer") == ["beta-01", "beta-00"]


@pytest.mark.parametrize(("query", "parameter"), [
    ("status=DONE", "status"), ("blocked_on=lunch", "blocked_on"), ("limit=501", "limit"),
    ("cursor=!!", "cursor"), ("created_after=yesterday", "created_after"),
])
def test_list_rejects_bad_filters_naming_the_parameter(
    api: TestClient, query: str, parameter: str
) -> None:
    response = api.get(f"/api/executions?{query}")
    assert response.status_code == 400 and error_code(response) == "invalid_request"
    assert response.json()["error"]["parameter"] == parameter


def test_counts_per_status_follow_the_other_filters(
    api: TestClient, app: App, clock: ManualClock
) -> None:
    _start_many(api, clock, 3, "echo", "alpha")
    _start_many(api, clock, 2, "sleeper", "beta")
    _drain(app)
    body = api.get("/api/counts").json()
    assert body["counts"] == {"RUNNING": 2, "SUCCEEDED": 3, "FAILED": 0, "TIMED_OUT": 0,
                              "STOPPED": 0}
    assert body["total"] == 5
    only_beta = api.get("/api/counts?function=sleeper&status=SUCCEEDED").json()
    assert only_beta["counts"]["RUNNING"] == 2 and only_beta["total"] == 2


# --- cancel -------------------------------------------------------------------------------------


def test_cancel_stops_a_waiting_execution_and_refuses_a_finished_one(
    api: TestClient, app: App
) -> None:
    api.post("/api/executions", json={"function": "sleeper", "id": "s-1"})
    _drain(app)
    stopped = api.post("/api/executions/s-1/cancel", json={})
    assert stopped.status_code == 200 and stopped.json()["status"] == "STOPPED"
    again = api.post("/api/executions/s-1/cancel", json={})
    assert again.status_code == 409 and error_code(again) == "execution_conflict"
    bare = api.post("/api/executions/s-1/cancel")  # state changes need the JSON media type
    assert bare.status_code == 415 and error_code(bare) == "unsupported_media_type"
    unknown_member = api.post("/api/executions/s-1/cancel", json={"force": True})
    assert unknown_member.status_code == 400


# --- routes -------------------------------------------------------------------------------------


def test_unknown_routes_and_methods_answer_json(api: TestClient) -> None:
    missing = api.get("/api/nothing-here")
    assert missing.status_code == 404 and error_code(missing) == "not_found"
    wrong = api.delete("/api/executions")
    assert wrong.status_code == 405 and error_code(wrong) == "method_not_allowed"


@pytest.mark.sqlite_only  # damages the SQLite file under the app
def test_unexpected_failures_are_500_without_internals(
    app: App, functions: Any, db_path: Any
) -> None:
    app.start("echo", 1, id="e")
    with sqlite3.connect(db_path) as damage:  # a damaged database: reading history fails
        damage.execute("DROP TABLE history")
    with TestClient(create_app(app), base_url="http://127.0.0.1",
                    raise_server_exceptions=False) as client:
        response = client.get("/api/executions/e/history")
    assert response.status_code == 500 and error_code(response) == "internal_error"
    assert "sqlite" not in response.text.lower()

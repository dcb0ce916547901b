"""Who may call the server: the bind rule, the token, dashboard sessions, callback ids, origins."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from redwood import App, ValidationError
from redwood.cli.serve import serve
from redwood.server import create_app
from redwood.server.security import callback_id_is_unguessable, is_loopback
from server.server_support import TOKEN, error_code

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_the_server_refuses_a_public_address_without_a_token(app: App) -> None:
    with pytest.raises(ValidationError, match="without a token") as refused:
        create_app(app, host="0.0.0.0")
    assert "--token" in refused.value.message
    with pytest.raises(ValidationError, match="empty"):
        create_app(app, host="0.0.0.0", token="  ")
    create_app(app, host="::1")  # loopback: open is allowed


def test_redwood_serve_refuses_a_public_address_without_a_token(db_path: Any) -> None:
    result = CliRunner().invoke(serve, ["--host", "0.0.0.0", "--database", str(db_path)],
                                env={"REDWOOD_TOKEN": ""})
    assert result.exit_code == 2
    assert "Refusing to serve on '0.0.0.0' without a token" in result.output


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("10.1.2.3", False),
    ("example.com", False), ("", False),
])
def test_loopback_means_this_machine_only(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_every_api_route_needs_the_token(secured: TestClient) -> None:
    for method, path in [("GET", "/api/executions"), ("GET", "/api/counts"),
                         ("GET", "/api/executions/x"), ("GET", "/openapi.json"),
                         ("POST", "/api/executions/x/cancel"),
                         ("POST", "/api/executions/x/events/go")]:
        response = secured.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 401, (method, path)
        assert error_code(response) == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    wrong = secured.get("/api/executions", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert secured.get("/api/executions", headers=BEARER).status_code == 200
    assert secured.get("/openapi.json", headers=BEARER).status_code == 200


def test_dashboard_pages_send_browsers_to_sign_in(secured: TestClient) -> None:
    page = secured.get("/executions/a%2Fb?filter=failed", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=/executions/a/b%3Ffilter%3Dfailed"
    assert secured.get("/login").status_code == 200
    assert secured.get("/static/dashboard.css").status_code == 200


def test_signing_in_sets_a_session_cookie_that_is_not_the_token(secured: TestClient) -> None:
    refused = secured.post("/login", json={"token": "guess"})
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    accepted = secured.post("/login", json={"token": TOKEN})
    assert accepted.status_code == 200
    cookie = accepted.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    assert secured.get("/").status_code == 200
    assert secured.get("/api/executions").status_code == 200
    secured.post("/logout", follow_redirects=False)
    assert secured.get("/api/executions").status_code == 401


def test_a_signed_in_browser_cannot_be_used_from_another_site(
    secured: TestClient, app: App
) -> None:
    app.start("sleeper", id="s")
    secured.post("/login", json={"token": TOKEN})
    forged = secured.post("/api/executions/s/cancel", json={},
                          headers={"Origin": "http://evil.example"})
    assert forged.status_code == 403 and error_code(forged) == "forbidden"
    same = secured.post("/api/executions/s/cancel", json={},
                        headers={"Origin": "http://redwood.internal:8233"})
    assert same.status_code == 200 and same.json()["status"] == "STOPPED"


def test_an_open_loopback_server_answers_only_loopback_host_names(api: TestClient) -> None:
    rebound = api.get("/api/executions", headers={"Host": "attacker.example"})
    assert rebound.status_code == 403 and "DNS rebinding" in rebound.json()["error"]["message"]
    assert api.get("/api/executions", headers={"Host": "localhost:8233"}).status_code == 200
    cross = api.post("/api/executions", json={"function": "echo"},
                     headers={"Origin": "http://attacker.example"})
    assert cross.status_code == 403


def test_callback_ids_are_credentials_only_when_unguessable() -> None:
    assert callback_id_is_unguessable(secrets.token_urlsafe(24))
    assert callback_id_is_unguessable(uuid.uuid4().hex + uuid.uuid4().hex[:4])
    for guessable in ["cb-1", "order-42-callback", "a" * 64, "0123456789" * 2, "x/../y" * 9,
                      uuid.uuid4().hex[:20]]:
        assert not callback_id_is_unguessable(guessable), guessable


def test_callback_routes_need_the_token_for_a_guessable_id(secured: TestClient) -> None:
    for action in ("succeed", "fail", "heartbeat"):
        response = secured.post(f"/api/callbacks/cb-1/{action}", json={})
        assert response.status_code == 401 and "unguessable" in response.json()["error"]["message"]


def test_callback_routes_take_an_unguessable_id_without_the_token(secured: TestClient) -> None:
    unknown = secrets.token_urlsafe(24)
    response = secured.post(f"/api/callbacks/{unknown}/succeed", json={"payload": 1})
    assert response.status_code == 404 and error_code(response) == "unknown_callback"
    # The id opens its own callback routes only, nothing else.
    assert secured.get(f"/api/executions/{unknown}").status_code == 401


def test_pages_carry_a_strict_content_security_policy(api: TestClient) -> None:
    headers = api.get("/").headers
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"

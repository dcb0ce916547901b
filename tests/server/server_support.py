"""Helpers shared by the server tests (imported by name: as server.server_support)."""

from __future__ import annotations

from typing import Any

TOKEN = "s3cret-token-for-tests-0123456789"


def error_code(response: Any) -> str:
    """The stable code of an error answer (and a check of its shape)."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return str(body["error"]["code"])

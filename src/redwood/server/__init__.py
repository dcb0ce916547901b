"""The HTTP API and the dashboard (``redwood serve``); needs the ``server`` extra."""

from __future__ import annotations

from redwood.server.asgi import create_app

__all__ = ["create_app"]

"""``redwood serve``, ``redwood list --blocked-on`` and the blocked-on lines of ``redwood show``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner

from redwood import App, DurableContext, ManualClock
from redwood.cli import main
from server.server_support import TOKEN


@pytest.fixture
def waiting_db(tmp_path: Path, clock: ManualClock) -> Path:
    """A database with one execution waiting on a timer and one that finished."""
    path = tmp_path / "cli.db"
    with App(path, clock=clock) as app:
        @app.function
        def napper(ctx: DurableContext) -> None:
            ctx.wait(3600, name="nap")

        @app.function
        def quick(ctx: DurableContext) -> int:
            return 1

        app.start(napper, id="napping")
        app.start(quick, id="done")
        app.worker().drain()
    return path


def redwood(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_list_filters_by_blocked_on(waiting_db: Path) -> None:
    found = redwood("list", "--blocked-on", "timer", "-d", str(waiting_db), "--json")
    assert found.exit_code == 0, found.output
    assert [e["id"] for e in json.loads(found.stdout)] == ["napping"]
    none = redwood("list", "--blocked-on", "callback", "-d", str(waiting_db), "--json")
    assert json.loads(none.stdout) == []
    wrong = redwood("list", "--blocked-on", "lunch", "-d", str(waiting_db))
    assert wrong.exit_code == 2 and "lease_expired" in wrong.output


def test_show_says_what_a_waiting_execution_is_blocked_on(waiting_db: Path) -> None:
    shown = redwood("show", "napping", "-d", str(waiting_db))
    assert shown.exit_code == 0, shown.output
    assert 'Blocked on  timer, operation #1 "nap", since' in shown.output
    data = json.loads(redwood("show", "napping", "-d", str(waiting_db), "--json").stdout)
    assert [item["kind"] for item in data["blocked_on"]] == ["timer"]
    finished = json.loads(redwood("show", "done", "-d", str(waiting_db), "--json").stdout)
    assert finished["blocked_on"] == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def serve_process(waiting_db: Path) -> Iterator[Callable[..., tuple[str, subprocess.Popen[str]]]]:
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, token: str | None = None) -> tuple[str, subprocess.Popen[str]]:
        port = _free_port()
        env = {**os.environ, "REDWOOD_TOKEN": token or ""}
        process = subprocess.Popen(
            [sys.executable, "-m", "redwood.cli", "serve", "--port", str(port), "-d",
             str(waiting_db), *args], env=env, stderr=subprocess.PIPE, text=True)
        started.append(process)
        return f"http://127.0.0.1:{port}", process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


def _answer(url: str, headers: dict[str, str] | None = None) -> int | None:
    try:
        return httpx2.get(url, headers=headers, timeout=2).status_code
    except httpx2.TransportError:
        return None


def test_redwood_serve_serves_the_database_on_loopback(
    serve_process: Any, until: Callable[..., None]
) -> None:
    base, process = serve_process()
    until(lambda: _answer(f"{base}/api/counts") is not None or process.poll() is not None,
          timeout=30, what="redwood serve to listen")
    assert process.poll() is None, process.stderr.read()
    counts = httpx2.get(f"{base}/api/counts").json()
    assert counts["counts"]["RUNNING"] == 1 and counts["total"] == 2
    assert "blocked-timer" in httpx2.get(f"{base}/").text


def test_redwood_serve_with_a_token_on_all_interfaces_needs_it(
    serve_process: Any, until: Callable[..., None]
) -> None:
    base, process = serve_process("--host", "0.0.0.0", token=TOKEN)
    until(lambda: _answer(f"{base}/api/counts") is not None or process.poll() is not None,
          timeout=30, what="redwood serve to listen")
    assert _answer(f"{base}/api/counts") == 401
    assert _answer(f"{base}/api/counts", {"Authorization": f"Bearer {TOKEN}"}) == 200

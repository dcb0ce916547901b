"""``redwood callback`` and ``redwood event``: answering a waiting execution from the shell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from redwood import App, DurableContext, ExecutionStatus, ManualClock
from redwood.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def waiting(tmp_path: Path) -> Iterator[tuple[App, str]]:
    """An app on a real file with executions waiting on a callback and on an event."""
    app = App(tmp_path / "redwood.db", clock=ManualClock())

    @app.function
    def approval(ctx: DurableContext) -> Any:
        callback = ctx.create_callback(name="sign-off")
        return {"callback": callback.result(), "event": ctx.wait_for_event("shipped")}

    app.start(approval, id="approval-1")
    app.worker().drain()
    yield app, str(tmp_path / "redwood.db")
    app.close()


def callback_id(app: App) -> str:
    op = next(op for op in app.client.operations("approval-1") if op.type.value == "CALLBACK")
    return str(op.details["callback_id"])


def test_callback_succeed_and_event_send_resume_the_execution(waiting: tuple[App, str]) -> None:
    app, database = waiting
    answered = run("callback", "succeed", callback_id(app), "--payload", '{"ok": true}',
                   "--database", database)
    assert answered.exit_code == 0 and "Completed callback" in answered.output
    app.worker().drain()
    assert app.client.get("approval-1").status is ExecutionStatus.RUNNING  # now waits for the event
    sent = run("event", "send", "approval-1", "shipped", "--payload", '"truck-7"',
               "--database", database)
    assert sent.exit_code == 0 and 'Sent event "shipped"' in sent.output
    app.worker().drain()
    assert app.client.result("approval-1", timeout=5) == {"callback": {"ok": True},
                                                          "event": "truck-7"}


def test_callback_fail_raises_in_the_waiting_code(waiting: tuple[App, str]) -> None:
    app, database = waiting
    failed = run("callback", "fail", callback_id(app), "--message", "rejected by finance",
                 "--error-type", "Rejected", "--database", database)
    assert failed.exit_code == 0
    app.worker().drain()
    execution = app.client.get("approval-1")
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error is not None and "rejected by finance" in execution.error.message


def test_heartbeat_is_accepted_for_a_waiting_callback(waiting: tuple[App, str]) -> None:
    app, database = waiting
    assert run("callback", "heartbeat", callback_id(app), "--database", database).exit_code == 0


def test_bad_answers_are_refused_and_change_nothing(waiting: tuple[App, str]) -> None:
    app, database = waiting
    before = [(op.id, op.status) for op in app.client.operations("approval-1")]
    bad_json = run("callback", "succeed", callback_id(app), "--payload", "{nope",
                   "--database", database)
    assert bad_json.exit_code == 2 and "--payload is not valid JSON" in bad_json.output
    unknown = run("callback", "succeed", "no-such-callback-id-0000000000000000",
                  "--database", database)
    assert unknown.exit_code != 0 and "callback" in unknown.output.lower()
    no_execution = run("event", "send", "nobody", "shipped", "--database", database)
    assert no_execution.exit_code != 0 and "nobody" in no_execution.output
    assert [(op.id, op.status) for op in app.client.operations("approval-1")] == before

"""A worker killed (SIGKILL) after taking an event from the inbox, before its commit: the event is
still in the inbox, and the next worker delivers it exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from redwood import App, DurableContext, ManualClock, OperationStatus

START = 1_800_000_000.0

CHILD = textwrap.dedent("""
    import sys
    from redwood import App, DurableContext, ManualClock

    app = App(sys.argv[1], clock=ManualClock(float(sys.argv[2])))

    @app.function
    def receive(ctx: DurableContext) -> object:
        return ctx.wait_for_event("go")

    app.worker().drain()
""")


def receive(ctx: DurableContext) -> object:
    return ctx.wait_for_event("go")


def test_event_taken_by_a_killed_worker_is_delivered_once_by_the_next(db_path: Path) -> None:
    clock = ManualClock(START)
    app = App(db_path, clock=clock)
    handle = app.start(app.function(receive), id="crash-event")
    app.worker().drain()
    app.client.send_event("crash-event", "go", {"n": 1})

    # Commit 1 is the claim; commit 2 would deliver the event and finish the execution.
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(db_path), str(clock.now())],
        env={**os.environ, "REDWOOD_FAULT": "commit.before:2"}, capture_output=True, timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert [event.payload for event in app.store.inbox("crash-event")] == ['{"n":1}']
    assert handle.operations()[0].status is OperationStatus.STARTED
    assert handle.get().lease_owner is not None  # the child claimed it, then died

    clock.advance(app.engine.settings.lease_seconds + 1)  # the dead worker's lease lapses
    app.worker().drain()

    assert handle.result(timeout=5) == {"n": 1}
    assert app.store.inbox("crash-event") == []
    assert [e.type for e in handle.history()].count("CallbackSucceeded") == 1
    app.close()

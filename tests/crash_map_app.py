"""The app of the map crash test: a map over many items, one recorded step each. Run as a script
it is the worker process the test kills; imported, it is the same app for the restart."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from redwood import App, Clock, DurableContext, DurableFunction

# Set in the worker process the test kills: the item whose step body kills it (SIGKILL) once
# its run is noted, so the kill falls in the middle of the map however fast items complete.
KILL_AT = "CRASH_MAP_KILL_AT"


def square(runs_path: str, n: int) -> int:
    """The step body: note each run in the side file (one short O_APPEND write per run)."""
    with open(runs_path, "a") as runs:
        runs.write(f"{n}\n")
    if os.environ.get(KILL_AT) == str(n):
        os.kill(os.getpid(), signal.SIGKILL)
    return n * n


def build(database: str, clock: Clock | None = None) -> tuple[App, DurableFunction[Any, Any]]:
    """The app and its map function."""
    app = App(database, clock=clock)

    @app.function
    def fan_out(ctx: DurableContext, job: dict[str, Any]) -> list[int | None]:
        def item(c: DurableContext, n: int) -> int:
            return c.step(square, job["runs"], n)
        return ctx.map(range(job["count"]), item, max_concurrency=4).results()

    return app, fan_out


if __name__ == "__main__":
    database, runs_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    application, function = build(database)
    with application.run_worker():
        application.start(function, {"count": count, "runs": runs_path}, id="fan-out")
        application.client.result("fan-out", timeout=120)

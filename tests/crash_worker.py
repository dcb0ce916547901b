"""The durable functions of the crash tests, and a worker process that runs them and dies.

Run as ``python crash_worker.py DATABASE SIDE_FILE MODE [KILL_IN_STEP]``: MODE ``drain`` runs
every ready execution once, ``serve`` runs a background worker until every execution has ended.
Step bodies append "<order> <step>" to SIDE_FILE before returning, so the test can count how often
each body ran; a body named KILL_IN_STEP SIGKILLs its own process right after appending.
Set REDWOOD_FAULT (see redwood.faults) to die at a commit instead.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

from redwood import App, DurableContext, ExecutionStatus, RetryPolicy, StepSemantics

LEASE_SECONDS = 0.5


def register(app: App, side_file: Path, kill_in: str | None = None) -> None:
    """Register ``pipeline`` (at-least-once steps) and two at-most-once variants of it."""

    def ran(order: str, step: str) -> None:
        with side_file.open("a") as side:
            side.write(f"{order} {step}\n")
        if step == kill_in:
            os.kill(os.getpid(), signal.SIGKILL)

    def reserve(order: str) -> str:
        ran(order, "reserve")
        return f"reserved {order}"

    def charge(order: str, receipt: str) -> str:
        ran(order, "charge")
        return f"charged for {receipt}"

    def ship(order: str, payment: str) -> str:
        ran(order, "ship")
        return f"shipped after {payment}"

    def pipeline(
        semantics: StepSemantics, retry: RetryPolicy
    ) -> Callable[[DurableContext, str], list[str]]:
        def run(ctx: DurableContext, order: str) -> list[str]:
            reserved = ctx.step(reserve, order)
            charged = ctx.step(charge, order, reserved, semantics=semantics, retry=retry)
            return [reserved, charged, ctx.step(ship, order, charged)]

        return run

    at_least_once = StepSemantics.AT_LEAST_ONCE_PER_RETRY
    at_most_once = StepSemantics.AT_MOST_ONCE_PER_RETRY
    app.function(name="pipeline")(pipeline(at_least_once, RetryPolicy.default()))
    app.function(name="pipeline_at_most_once")(pipeline(at_most_once, RetryPolicy.none()))
    app.function(name="pipeline_at_most_once_retried")(
        pipeline(at_most_once, RetryPolicy.fixed(1.0)))


def main(argv: list[str]) -> int:
    database, side_file, mode = argv[0], Path(argv[1]), argv[2]
    kill_in = argv[3] if len(argv) > 3 else None
    with App(database, lease_seconds=LEASE_SECONDS) as app:
        register(app, side_file, kill_in)
        if mode == "drain":
            app.worker().drain()
            return 0
        with app.run_worker(poll_interval=0.01):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                running = app.client.list(status=ExecutionStatus.RUNNING)
                if not running:
                    return 0
                app.engine.wait_finished(running[0].id, max(0.0, deadline - time.monotonic()))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

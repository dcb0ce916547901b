"""A worker process for the PostgreSQL cluster tests (run from tests/ as ``python -m``):

    python -m cluster_worker DATABASE_URL RUNS_FILE [LEASE_SECONDS] [CONCURRENCY]

Every step body appends "execution index start_time pid" to RUNS_FILE before it returns, so the
tests can count how often each body ran and when. Prints "ready" once the worker runs; SIGTERM
stops it gracefully, SIGKILL is what the tests use to crash it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from redwood import App, DurableContext

STEPS = 20


def build(url: str, runs_file: str, lease_seconds: float) -> App:
    """The app every cluster worker (and the test's client) registers."""
    app = App(url, lease_seconds=lease_seconds)
    runs = os.open(runs_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def record(execution_id: str, index: int) -> None:
        # One write(2) per line with O_APPEND: whole lines, and they survive SIGKILL.
        os.write(runs, f"{execution_id} {index} {time.time():.6f} {os.getpid()}\n".encode())

    def work(execution_id: str, index: int) -> int:
        record(execution_id, index)
        return index * 2

    def slow_work(execution_id: str, index: int) -> int:
        record(execution_id, index)
        threading.Event().wait(1.0)  # a step that takes a while: the work itself
        return os.getpid()

    @app.function
    def twenty_steps(ctx: DurableContext, n: int) -> int:
        return n + sum(ctx.step(work, ctx.execution_id, i, name=f"s{i}") for i in range(STEPS))

    @app.function
    def slow_steps(ctx: DurableContext) -> list[int]:
        return [ctx.step(slow_work, ctx.execution_id, i, name=f"slow{i}") for i in range(2)]

    @app.function
    def timer(ctx: DurableContext, n: int) -> int:
        ctx.wait(2)
        return n

    return app


def main() -> None:
    url, runs_file = sys.argv[1], sys.argv[2]
    lease = float(sys.argv[3]) if len(sys.argv) > 3 else 1.5
    concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app = build(url, runs_file, lease)
    with app.run_worker(concurrency=concurrency, lease_seconds=lease):
        print("ready", flush=True)
        stop.wait()
    app.close()


if __name__ == "__main__":
    main()

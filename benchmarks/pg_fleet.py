"""Worker processes for the PostgreSQL benchmarks, each driven over its stdin and stdout.

    python -m benchmarks.pg_fleet --database URL [--concurrency 64]

A worker process opens the app, registers the benchmark functions, says it is ready, then obeys
one command per line and answers each with one JSON line:

- ``start``: start a Worker (the one ``redwood worker`` runs) that claims and runs executions;
- ``pause``: stop it (running invocations finish); nothing is claimed until the next ``start``;
- ``stats``: CPU seconds so far, resident memory and live Python objects after a full garbage
  collection, invocations running, transactions sent by the store;
- ``exit``.

``Fleet`` spawns and drives several of them from the benchmark process.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from benchmarks import pg_common
from benchmarks.functions import ten_steps
from benchmarks.registry import ROOT
from benchmarks.sleepers import rss_bytes
from redwood import App, DurableContext
from redwood.engine.worker import Worker

# ctx.wait refuses less than a second.
MIN_WAIT = 1.0


def sleep_until(ctx: DurableContext, deadline: float) -> float:
    """Sleep durably until ``deadline`` (epoch seconds; at least ctx.wait's minimum), then
    record when a worker ran the execution again."""
    ctx.wait(max(MIN_WAIT, deadline - ctx.now()))
    return ctx.step(time.time, name="woke")


def register(app: App) -> None:
    """The functions every benchmark process knows: W1 (ten steps) and the sleeper."""
    app.function(ten_steps)
    app.function(sleep_until)


@contextmanager
def fresh_app(database: str | None, prefix: str) -> Iterator[tuple[App, str]]:
    """A scratch database (or ``database``), and an app on it that knows the functions."""
    with pg_common.scratch_database(prefix, database) as url, App(url) as app:
        register(app)
        yield app, url


def stats(app: App, worker: Worker | None) -> dict[str, Any]:
    """What ``stats`` answers."""
    gc.collect()
    objects = gc.get_objects()
    times = os.times()
    return {"pid": os.getpid(), "cpu_seconds": times.user + times.system,
            "cpu_system_seconds": times.system, "rss_bytes": rss_bytes(),
            "python_objects": len(objects),
            "types": dict(Counter(type(o).__name__ for o in objects).most_common(40)),
            "in_flight": 0 if worker is None else worker.in_flight,
            "transactions": getattr(app.store, "transactions", None)}


def serve(database: str, concurrency: int) -> None:
    """The worker process: obey commands from stdin until ``exit`` or end of input."""
    app = App(database)
    register(app)
    worker: Worker | None = None
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "start" and worker is None:
            worker = app.worker(concurrency=concurrency).start()
            answer: dict[str, Any] = {"started": time.time()}
        elif command == "pause" and worker is not None:
            worker.stop()
            worker = None
            answer = {"paused": time.time()}
        elif command == "stats":
            answer = stats(app, worker)
        elif command == "exit":
            break
        else:
            answer = {"error": f"unknown or untimely command {command!r}"}
        print(json.dumps(answer), flush=True)
    if worker is not None:
        worker.stop()
    app.close()


class Fleet:
    """``count`` worker processes on ``database``; every command goes to all of them at once."""

    def __init__(self, database: str, count: int, concurrency: int = 64) -> None:
        self.logs = Path(tempfile.mkdtemp(prefix="pg-fleet-"))
        self.processes: list[subprocess.Popen[str]] = []
        try:
            for index in range(count):
                log = (self.logs / f"worker-{index}.log").open("w")
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.pg_fleet", "--database", database,
                     "--concurrency", str(concurrency)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                    cwd=ROOT))
                log.close()
            self.pids = [int(self._read(p)["ready"]) for p in self.processes]
        except BaseException:
            self.close()
            raise

    def tell(self, command: str) -> list[dict[str, Any]]:
        """Send ``command`` to every worker process, then collect their answers in order."""
        for process in self.processes:
            self._pipe(process.stdin).write(command + "\n")
            self._pipe(process.stdin).flush()
        answers = [self._read(p) for p in self.processes]
        failed = [a["error"] for a in answers if "error" in a]
        if failed:
            raise RuntimeError(f"a worker process refused {command!r}: {failed[0]}")
        return answers

    def _read(self, process: subprocess.Popen[str]) -> dict[str, Any]:
        line = self._pipe(process.stdout).readline()
        if not line:
            process.wait(timeout=30)
            log = self.logs / f"worker-{self.processes.index(process)}.log"
            raise RuntimeError(f"worker process {process.pid} ended ({process.returncode}): "
                               f"{log.read_text()[-2000:]}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    @staticmethod
    def _pipe(stream: IO[str] | None) -> IO[str]:
        assert stream is not None
        return stream

    def close(self) -> None:
        """Ask every worker process to exit; kill those that do not within 30 s."""
        for process in self.processes:
            if process.poll() is None and process.stdin is not None:
                try:
                    process.stdin.write("exit\n")
                    process.stdin.close()
                except (BrokenPipeError, ValueError):
                    pass
        deadline = time.monotonic() + 30
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        # A worker that died said why in the error that reported it (its log's tail).
        shutil.rmtree(self.logs, ignore_errors=True)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="a PostgreSQL benchmark worker process")
    parser.add_argument("--database", required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    serve(args.database, args.concurrency)


if __name__ == "__main__":
    main()

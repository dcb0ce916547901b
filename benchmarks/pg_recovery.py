"""Crash recovery on PostgreSQL: from a worker's death to the next step of its executions on
another worker, for several lease lengths.

    python benchmarks/pg_recovery.py [--leases 2,5,10,30] [--executions 20]

Worker A (a process) runs ``--executions`` long executions (a step every ~20 ms); worker B (a
second process) idles. A is SIGKILLed at a random moment; for each execution we take the time
from the kill to the first step body B runs for it (B first replays the journal A left). The
lease bounds the wait: A renewed it at most lease/3 before dying, so B takes over between
2/3 and all of a lease later. Writes benchmarks/results/pg_recovery.json.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pg_common import machine, scratch_database, write_result

from redwood import App, DurableContext

HERE = Path(__file__).parent


def build(url: str, runs_file: str, lease: float) -> App:
    app = App(url, lease_seconds=lease)
    runs = os.open(runs_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def tick(execution_id: str, index: int) -> int:
        os.write(runs, f"{execution_id} {index} {time.time():.6f} {os.getpid()}\n".encode())
        threading.Event().wait(0.02)  # the step's work
        return index

    @app.function
    def ticking(ctx: DurableContext) -> int:
        return sum(ctx.step(tick, ctx.execution_id, i, name="tick") for i in range(1_000_000))

    return app


def run_worker(url: str, lease: float, runs_file: str) -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    app = build(url, runs_file, lease)
    with app.run_worker(concurrency=64, lease_seconds=lease):
        print("ready", flush=True)
        stop.wait()


def spawn(url: str, lease: float, runs_file: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "--worker", url, str(lease), str(runs_file)],
            stdout=out, stderr=subprocess.STDOUT)
    until(lambda: b"ready" in log.read_bytes(), 30)
    return process


def until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        time.sleep(0.005)


def first_runs(runs_file: Path, pid: int) -> dict[str, float]:
    first: dict[str, float] = {}
    for line in runs_file.read_text().splitlines():
        execution_id, _index, at, who = line.split()
        if int(who) == pid and execution_id not in first:
            first[execution_id] = float(at)
    return first


def measure(lease: float, executions: int, folder: Path, chaos: random.Random) -> dict[str, float]:
    with scratch_database("redwood_bench_recovery") as url:
        runs_file = folder / f"runs-{lease:g}.txt"
        a = spawn(url, lease, runs_file, folder / f"a-{lease:g}.log")
        with App(url) as client:
            client.function(name="ticking")(lambda ctx: None)
            for i in range(executions):
                client.start("ticking", id=f"run-{i}")
        until(lambda: len(first_runs(runs_file, a.pid)) == executions, 30)
        b = spawn(url, lease, runs_file, folder / f"b-{lease:g}.log")
        # Die anywhere in the renewal cycle, as a real crash would.
        time.sleep(chaos.uniform(0, lease / 3))
        killed_at = time.time()
        a.send_signal(signal.SIGKILL)
        a.wait()
        until(lambda: len(first_runs(runs_file, b.pid)) == executions, lease + 30)
        b.kill()
        b.wait()
        taken = [at - killed_at for at in first_runs(runs_file, b.pid).values()]
    return {"lease_seconds": lease, "executions": executions,
            "min_s": round(min(taken), 3), "median_s": round(statistics.median(taken), 3),
            "max_s": round(max(taken), 3)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        run_worker(sys.argv[2], float(sys.argv[3]), sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--leases", default="2,5,10,30")
    parser.add_argument("--executions", type=int, default=20)
    parser.add_argument("--folder", default="/tmp/redwood-bench-recovery")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    chaos = random.Random(7)
    rows = []
    for lease in (float(x) for x in args.leases.split(",")):
        row = measure(lease, args.executions, folder, chaos)
        rows.append(row)
        print(f"lease {lease:>4g} s: next step on another worker {row['min_s']:.2f} s "
              f"(min) / {row['median_s']:.2f} s (median) / {row['max_s']:.2f} s (max) "
              f"after the crash")
    path = write_result("pg_recovery", {"benchmark": "pg_recovery", "results": rows,
                                        "machine": machine()})
    print(f"written to {path}")


if __name__ == "__main__":
    main()

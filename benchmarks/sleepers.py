"""W4: N executions each sleeping on the real clock. Wake-up lateness, and memory per sleeping
execution in the worker process.

Runs in a fresh process (``python -m benchmarks.sleepers ...``, JSON on stdout) so that what the
rest of the run allocated does not blur the memory figure.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.model import W4_P99_LATENESS, Figure
from benchmarks.registry import ROOT, Bench, workload
from benchmarks.stats import Summary
from redwood import App, DurableContext, ExecutionStatus


def sleeper(ctx: DurableContext, deadline: float) -> float:
    """Sleep durably until ``deadline`` (epoch seconds; ctx.wait sleeps a second at least), then
    record when the worker ran us again."""
    ctx.wait(max(1.0, deadline - ctx.now()))
    return ctx.step(time.time, name="woke")


def rss_bytes() -> int:
    """This process's resident set size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def _all_sleeping(app: App, ids: set[str]) -> bool:
    running = app.client.list(status=ExecutionStatus.RUNNING, limit=len(ids) + 10)
    sleeping = {e.id for e in running if e.id in ids and e.lease_owner is None}
    return len(sleeping) == len(ids)


def measure(database: str, count: int, seconds: float) -> dict[str, Any]:
    """Start ``count`` sleepers with an embedded worker, all due at one deadline at least
    ``seconds`` ahead and late enough that every one is asleep before it; measure memory while
    all sleep, then the lateness of each wake-up (when the step after the wait ran, minus the
    wait's due time)."""
    app = App(database)
    fn = app.function(sleeper)
    with app.run_worker() as worker:
        # Warm-up: the code paths and pools a sleeper touches, so they are not counted as held;
        # it also tells how long a start takes, to put the deadline after the last one.
        warmup = min(20, count)
        began = time.perf_counter()
        probes = [app.start(fn, 0.0) for _ in range(warmup)]
        per_start = (time.perf_counter() - began) / warmup
        for handle in probes:
            handle.result(timeout=60)
        gc.collect()
        rss_before, objects_before = rss_bytes(), len(gc.get_objects())
        began = time.time()
        deadline = began + seconds + 3 * per_start * count
        handles = [app.start(fn, deadline) for _ in range(count)]
        started = time.time() - began
        ids = {h.id for h in handles}
        while not _all_sleeping(app, ids) or worker.in_flight:
            if time.time() >= deadline:
                raise RuntimeError(f"{count} sleepers were not all asleep before their deadline "
                                   f"({deadline - began:.1f} s after the first start)")
            time.sleep(0.01)
        gc.collect()
        rss_sleeping, objects_sleeping = rss_bytes(), len(gc.get_objects())
        woke = [h.result(timeout=seconds + 120) for h in handles]
        late = []
        for handle, at in zip(handles, woke, strict=True):
            # The journal clears a fired timer's due time; the history keeps it.
            due = next(e.details["scheduled_end"] for e in handle.history()
                       if e.type == "WaitStarted")
            late.append(at - due)
    app.close()
    return {
        "count": count, "sleep_seconds": seconds, "start_seconds": started,
        "deadline_seconds": deadline - began,
        "lateness": Summary.of_seconds(late).as_dict(),
        "rss_delta_bytes": rss_sleeping - rss_before,
        "rss_per_execution_bytes": (rss_sleeping - rss_before) / count,
        "objects_per_execution": (objects_sleeping - objects_before) / count,
    }


@workload("W4", "N executions sleeping on the real clock: wake-up lateness, memory per sleeper",
          in_process=False)
def w4(bench: Bench) -> list[Figure]:
    """Run ``measure`` in a fresh worker process on the same store."""
    database = bench.database
    if bench.backend == "sqlite":
        database = str(bench.scratch / "sleepers.db")
    plan = bench.plan
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.sleepers", "--database", database,
         "--count", str(plan.sleepers), "--sleep", str(plan.sleep_seconds)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the W4 process failed: {out.stderr.strip()[-2000:]}")
    data = json.loads(out.stdout)
    lateness = data["lateness"]
    shared = {"executions": plan.sleepers, "sleep_seconds": plan.sleep_seconds,
              "deadline_seconds": round(data["deadline_seconds"], 2)}
    return [
        Figure("redwood", bench.backend, "W4", "p99 wake-up lateness", lateness["p99"], "ms",
               W4_P99_LATENESS, details={**lateness, **shared}),
        Figure("redwood", bench.backend, "W4", "p50 wake-up lateness", lateness["median"], "ms",
               details=shared),
        Figure("redwood", bench.backend, "W4", "RSS per sleeping execution",
               data["rss_per_execution_bytes"] / 1024, "KiB",
               details={"rss_delta_bytes": data["rss_delta_bytes"],
                        "python_objects_per_execution": round(data["objects_per_execution"], 2),
                        **shared}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--sleep", type=float, required=True)
    args = parser.parse_args()
    print(json.dumps(measure(args.database, args.count, args.sleep)))


if __name__ == "__main__":
    main()

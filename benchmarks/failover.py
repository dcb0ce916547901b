"""W5: SIGKILL a worker process in the middle of executions; time until they resume on another
worker process. The time is the rest of the dead worker's lease plus detection (the engine's
part: noticing the expired lease and claiming).

The orchestrator runs in the benchmark process; the two workers are ``python -m
benchmarks.failover --role doomed|survivor`` processes on the same store.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.model import Figure
from benchmarks.registry import ROOT, Bench, workload
from benchmarks.stats import Summary
from redwood import App, DurableContext, OperationStatus

ROLE = "REDWOOD_BENCH_ROLE"


def before() -> int:
    """The step that proves the execution reached the doomed worker."""
    return 1


def work() -> float:
    """Hang on the doomed worker (it is killed here); on the survivor, say when it resumed."""
    if os.environ.get(ROLE) == "doomed":
        while True:
            time.sleep(60)
    return time.time()


def interrupted(ctx: DurableContext, n: int) -> float:
    """One finished step, then one that the kill interrupts."""
    ctx.step(before)
    return ctx.step(work)


def _spawn(database: str, role: str, lease: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.failover", "--database", database,
         "--lease", str(lease)],
        env={**os.environ, ROLE: role}, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "ready":
        process.kill()
        raise RuntimeError(f"{role} worker did not start (said {line!r})")
    return process


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"W5: timed out waiting for {what}")
        time.sleep(0.01)


def measure(database: str, count: int, lease: float) -> dict[str, Any]:
    """Kill the worker running ``count`` executions; time their resumption elsewhere."""
    app = App(database)
    fn = app.function(interrupted)
    doomed = _spawn(database, "doomed", lease)
    survivor: subprocess.Popen[str] | None = None
    try:
        handles = [app.start(fn, i) for i in range(count)]

        def in_work_step() -> bool:
            return all(any(op.name == "before" and op.status is OperationStatus.SUCCEEDED
                           for op in h.operations()) for h in handles)

        _wait_for(in_work_step, 60, "the doomed worker to reach the second step")
        survivor = _spawn(database, "survivor", lease)
        held = [h.get() for h in handles]
        os.kill(doomed.pid, signal.SIGKILL)
        killed_at = time.time()
        doomed.wait()
        after = [h.get() for h in handles]
        resumed = [h.result(timeout=lease + 60) for h in handles]
        final = [h.get().invocations for h in handles]
    finally:
        for process in (doomed, survivor):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        app.close()
    mark = f":{doomed.pid}:"
    # The lease that had to lapse: the dead worker's, as it stood when it died (re-read after
    # the kill in case it changed in between, unless the survivor had already taken over).
    expiries = [(a if mark in (a.lease_owner or "") else h).lease_expires_at or killed_at
                for h, a in zip(held, after, strict=True)]
    return {
        "resume_after_kill": Summary.of_seconds([r - killed_at for r in resumed]).as_dict(),
        "lease_remaining": Summary.of_seconds([e - killed_at for e in expiries]).as_dict(),
        "detection": Summary.of_seconds(
            [r - e for r, e in zip(resumed, expiries, strict=True)]).as_dict(),
        # Invocations the dead worker had started: 1 each, unless it re-claimed executions
        # whose lease it failed to renew while their step ran.
        "doomed_invocations_max": max(h.invocations for h in held),
        "resumed_before_kill": sum(r < killed_at for r in resumed),
        "invocations_max": max(final),
    }


@workload("W5", "SIGKILL a worker process; time until its executions resume on another",
          in_process=False)
def w5(bench: Bench) -> list[Figure]:
    """Failover time, split into the lease that had to lapse and the detection after it."""
    database = bench.database
    if bench.backend == "sqlite":
        database = str(Path(bench.scratch) / "failover.db")
    plan = bench.plan
    data = measure(database, plan.failover_executions, plan.lease_seconds)
    shared = {"executions": plan.failover_executions, "lease_seconds": plan.lease_seconds,
              "invocations_max": data["invocations_max"],
              "doomed_invocations_max": data["doomed_invocations_max"],
              "resumed_before_kill": data["resumed_before_kill"]}
    resume, remaining, detection = (data["resume_after_kill"], data["lease_remaining"],
                                    data["detection"])
    return [
        Figure("redwood", bench.backend, "W5", "resume after SIGKILL (median)",
               resume["median"], "ms", details={**resume, **shared}),
        Figure("redwood", bench.backend, "W5", "lease remaining at kill (median)",
               remaining["median"], "ms", details=shared),
        Figure("redwood", bench.backend, "W5", "detection after lease expiry (max)",
               detection["maximum"], "ms", details={**detection, **shared}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="a W5 worker process")
    parser.add_argument("--database", required=True)
    parser.add_argument("--lease", type=float, required=True)
    args = parser.parse_args()
    app = App(args.database, lease_seconds=args.lease)
    app.function(interrupted)
    with app.run_worker():
        print("ready", flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()

"""A backlog of W1 executions drained by worker processes: executions/s, and CPU per execution
of the worker processes, of the PostgreSQL backends serving the database, and of the machine.

``benchmarks.pg_scale`` runs drains by 1, 2 and 4 worker processes and compares them.
"""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks import pg_common
from benchmarks.model import Figure
from benchmarks.pg_fleet import Fleet, fresh_app
from redwood import App

CORES = os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class Drain:
    """One backlog drained by ``processes`` worker processes."""

    processes: int
    concurrency: int  # invocation slots per worker process
    executions: int
    seconds: float  # from the start command to the last ended_at
    steady_per_second: float  # between the 10th and 90th percentile of ended_at
    worker_cpu: float
    worker_system_cpu: float  # the part spent in the kernel (socket I/O, futexes)
    worker_transactions: int  # reads and writes the worker processes sent
    server_cpu: float
    machine_busy: float
    machine_total: float

    @property
    def per_second(self) -> float:
        """Executions per second over the whole drain."""
        return self.executions / self.seconds


def drain(processes: int, backlog: int, database: str | None, concurrency: int = 64) -> Drain:
    """Start ``backlog`` executions with the worker processes paused; start them and time
    until every execution ended."""
    with fresh_app(database, "redwood_bench_scale") as (app, url):
        return _drain(app, url, processes, backlog, concurrency)


def _drain(app: App, url: str, processes: int, backlog: int, concurrency: int) -> Drain:
    function = app.registry.get("ten_steps")
    census = pg_common.Census(url)
    try:
        with Fleet(url, processes, concurrency) as fleet:
            fleet.tell("start")
            for handle in [app.start(function, 0) for _ in range(5 * processes)]:
                handle.result(timeout=60)
            fleet.tell("pause")
            since = time.time()
            with ThreadPoolExecutor(8) as starters:
                list(starters.map(lambda _: app.start(function, 0), range(backlog)))
            before = fleet.tell("stats")
            server_before = _server_cpu(url, census)
            busy_before, total_before = pg_common.machine_cpu_seconds()
            go = time.time()
            fleet.tell("start")
            deadline = time.monotonic() + 600
            while census.count(since, "SUCCEEDED") < backlog:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{backlog} executions did not finish within 600 s")
                time.sleep(0.05)
            busy_after, total_after = pg_common.machine_cpu_seconds()
            server_after = _server_cpu(url, census)
            after = fleet.tell("stats")
    finally:
        census.close()
    ended = sorted(e.ended_at or 0.0 for e in app.client.list(since=since, limit=backlog + 1))
    assert len(ended) == backlog, f"expected {backlog} executions, found {len(ended)}"
    low, high = ended[len(ended) // 10], ended[(len(ended) * 9) // 10]
    steady = (len(ended) * 8 // 10) / (high - low) if high > low else float("nan")
    return Drain(
        processes=processes, concurrency=concurrency, executions=backlog, seconds=ended[-1] - go,
        steady_per_second=steady,
        worker_cpu=sum(a["cpu_seconds"] - b["cpu_seconds"]
                       for a, b in zip(after, before, strict=True)),
        worker_system_cpu=sum(a["cpu_system_seconds"] - b["cpu_system_seconds"]
                              for a, b in zip(after, before, strict=True)),
        worker_transactions=sum(a["transactions"] - b["transactions"]
                                for a, b in zip(after, before, strict=True)),
        # Backends that connected during the drain started from zero.
        server_cpu=sum(cpu - server_before.get(pid, 0.0) for pid, cpu in server_after.items()),
        machine_busy=busy_after - busy_before, machine_total=total_after - total_before)


def _server_cpu(url: str, census: pg_common.Census) -> dict[int, float]:
    """CPU seconds of the backends serving the database (not the census's own)."""
    pids = [pid for pid in pg_common.backend_pids(url) if pid != census.pid]
    return pg_common.process_cpu_seconds(pids)



def figures(processes: int, results: list[Drain]) -> list[Figure]:
    """Medians over ``results`` (drains by one count of worker processes)."""
    def median(values: list[float]) -> float:
        return statistics.median(values)

    n = results[0].executions
    label = f"{processes} worker process{'es' if processes > 1 else ''}"
    shared = {"processes": processes, "backlog": n, "runs": len(results),
              "concurrency": results[0].concurrency}
    return [
        Figure("redwood", "postgresql", "W1", f"backlog drained by {label}",
               median([d.per_second for d in results]), "exec/s", lower_is_better=False,
               details={**shared, "rounds": [round(d.per_second, 1) for d in results],
                        "steady_per_second": round(median([d.steady_per_second
                                                           for d in results]), 1)}),
        Figure("redwood", "postgresql", "W1", f"worker CPU per execution ({label})",
               median([1000 * d.worker_cpu / n for d in results]), "ms",
               details={**shared, "system_ms": round(median(
                   [1000 * d.worker_system_cpu / n for d in results]), 3),
                   "transactions_per_execution": round(median(
                       [d.worker_transactions / n for d in results]), 2)}),
        Figure("redwood", "postgresql", "W1", f"PostgreSQL CPU per execution ({label})",
               median([1000 * d.server_cpu / n for d in results]), "ms", details=shared),
        Figure("redwood", "postgresql", "W1", f"machine CPU per execution ({label})",
               median([1000 * d.machine_busy / n for d in results]), "ms",
               details={**shared, "cores_busy": round(median(
                   [d.machine_busy / d.machine_total * CORES for d in results]), 2)}),
    ]

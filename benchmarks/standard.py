"""The in-process workloads: the commit floor, W1, W2 and W3 on Redwood with an embedded worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import drive, fanout, floor
from benchmarks.functions import PIPELINE_RESULT, STEPS, VIDEO, Functions
from benchmarks.model import (
    W1_BACK_TO_BACK,
    W1_FLOOR_RATIO,
    W1_IN_FLIGHT,
    W1_MEDIAN,
    W3_MEDIAN,
    Figure,
    Target,
)
from benchmarks.registry import Bench, workload
from redwood import App, DurableFunction

SYSTEM = "redwood"


def roundtrip(app: App, function: DurableFunction[Any, Any], payload: Any,
              expected: Any) -> Callable[[], None]:
    """Start one execution and wait for its result, checking it."""

    def run() -> None:
        result = app.start(function, payload).result(timeout=120)
        if result != expected:
            raise AssertionError(f"{function.name} returned {result!r}, expected {expected!r}")

    return run


def commits(app: App) -> int | None:
    """The store's commit counter, when it keeps one."""
    value = getattr(app.store, "commits", None)
    return value if isinstance(value, int) else None


def latency_figure(bench: Bench, key: str, metric: str, result: drive.Sequential,
                   target: Target | None, **details: Any) -> Figure:
    """A median latency figure with the distribution in its details."""
    return Figure(SYSTEM, bench.backend, key, metric, result.latency.median, "ms", target,
                  details={**result.latency.as_dict(), **details})


@workload("floor", "one durable commit (one small insert) on the same disk or server")
def commit_floor(bench: Bench) -> list[Figure]:
    """Median latency of one durable commit; W1 divides by it."""
    if bench.backend == "sqlite":
        summary = floor.sqlite_commit(bench.scratch, bench.plan.floor_commits)
        how = "SQLite WAL, synchronous=FULL, one small insert, same directory as the store"
    else:
        summary = floor.postgres_commit(bench.database, bench.plan.floor_commits)
        how = "PostgreSQL, one small insert per transaction, same server and database"
    bench.shared["floor_ms"] = summary.median
    return [Figure(SYSTEM, bench.backend, "floor", "commit median", summary.median, "ms",
                   details={**summary.as_dict(), "how": how})]


@workload("W1", f"{STEPS} sequential trivial steps, start to result, embedded worker")
def w1(bench: Bench) -> list[Figure]:
    """Latency, back-to-back rate and 50-in-flight rate, for a sync and an async function."""
    functions: Functions = bench.shared["functions"]
    plan = bench.plan
    figures = []
    for flavour, function in (("sync", functions.ten_steps), ("async", functions.ten_steps_async)):
        run = roundtrip(bench.app, function, 0, STEPS)
        drive.warm_up(run, plan.warmup)
        before = commits(bench.app)
        sequential = drive.sequential(run, plan.sequential)
        after = commits(bench.app)
        figures.append(latency_figure(bench, "W1", f"median latency ({flavour})", sequential,
                                      W1_MEDIAN))
        figures.extend(_floor_ratio(bench, flavour, sequential, before, after))
        figures.append(Figure(SYSTEM, bench.backend, "W1", f"back-to-back ({flavour})",
                              sequential.per_second, "exec/s", W1_BACK_TO_BACK,
                              lower_is_better=False, details={"n": plan.sequential}))
        drive.in_flight(run, plan.clients, 1)  # warm the worker's thread pool first
        rate = drive.in_flight(run, plan.clients, plan.per_client)
        figures.append(Figure(SYSTEM, bench.backend, "W1",
                              f"{plan.clients} in flight ({flavour})", rate, "exec/s",
                              W1_IN_FLIGHT if plan.clients == 50 else None,
                              lower_is_better=False,
                              details={"clients": plan.clients, "per_client": plan.per_client}))
    return figures


def _floor_ratio(bench: Bench, flavour: str, sequential: drive.Sequential, before: int | None,
                 after: int | None) -> list[Figure]:
    floor_ms = bench.shared.get("floor_ms")
    if before is None or after is None or floor_ms is None:
        return []
    per_execution = (after - before) / sequential.latency.n
    floor_total = per_execution * floor_ms
    return [Figure(SYSTEM, bench.backend, "W1", f"median / commit floor ({flavour})",
                   sequential.latency.median / floor_total, "x", W1_FLOOR_RATIO,
                   details={"commits_per_execution": round(per_execution, 3),
                            "commit_ms": round(floor_ms, 4),
                            "floor_ms": round(floor_total, 4)})]


@workload("W2", "video pipeline: validate, split into 10 chunks, encode each, assemble")
def w2(bench: Bench) -> list[Figure]:
    """Start-to-result latency of the pipeline (trivial encode)."""
    functions: Functions = bench.shared["functions"]
    run = roundtrip(bench.app, functions.pipeline, VIDEO, PIPELINE_RESULT)
    drive.warm_up(run, bench.plan.warmup // 5 + 1)
    result = drive.sequential(run, bench.plan.pipeline)
    return [latency_figure(bench, "W2", "median latency", result, None, fanout=fanout.MODE)]


@workload("W3", "counter: +1, +2, read, -1 -> 2")
def w3(bench: Bench) -> list[Figure]:
    """Start-to-result latency of the counter."""
    functions: Functions = bench.shared["functions"]
    run = roundtrip(bench.app, functions.counter, None, 2)
    drive.warm_up(run, bench.plan.warmup)
    before = commits(bench.app)
    result = drive.sequential(run, bench.plan.counter)
    after = commits(bench.app)
    details = {}
    if before is not None and after is not None:
        details["commits_per_execution"] = round((after - before) / bench.plan.counter, 3)
    return [latency_figure(bench, "W3", "median latency", result, W3_MEDIAN, **details)]

"""W1, W2 and W3 written for DBOS Transact, idiomatically (workflows and steps, DBOS's own
config and launch), measured by the same loops as Redwood's. Runs in its own process, since
DBOS is a process-wide singleton:

    python -m benchmarks.peers.dbos_workloads --system-database-url URL --plan quick

prints the figures as JSON on stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sqlite3
from importlib.metadata import version
from typing import Any

from dbos import DBOS, DBOSConfig

from benchmarks import drive
from benchmarks.model import (
    W1_BACK_TO_BACK,
    W1_IN_FLIGHT,
    W1_MEDIAN,
    W3_MEDIAN,
    Figure,
    Target,
)
from benchmarks.registry import PLANS, Plan

STEPS = 10
CHUNKS = 10
VIDEO = {"name": "bench.mp4", "frames": 3000}


@DBOS.step()
def bump(x: int) -> int:
    return x + 1


@DBOS.workflow()
def ten_steps(x: int) -> int:
    for _ in range(STEPS):
        x = bump(x)
    return x


@DBOS.step()
async def bump_async(x: int) -> int:
    return x + 1


@DBOS.workflow()
async def ten_steps_async(x: int) -> int:
    for _ in range(STEPS):
        x = await bump_async(x)
    return x


@DBOS.step()
def add(value: int, delta: int) -> int:
    return value + delta


@DBOS.step()
def read(value: int) -> int:
    return value


@DBOS.workflow()
def counter() -> int:
    value = add(0, 1)
    value = add(value, 2)
    seen = read(value)
    return add(seen, -1)


@DBOS.step()
def validate(video: dict[str, Any]) -> dict[str, Any]:
    if video["frames"] <= 0:
        raise ValueError(f"video {video['name']!r} has no frames")
    return video


@DBOS.step()
def split(video: dict[str, Any]) -> list[dict[str, int]]:
    size = video["frames"] // CHUNKS
    return [{"index": i, "first": i * size, "frames": size} for i in range(CHUNKS)]


def _encode(chunk: dict[str, int]) -> str:
    return hashlib.sha256(repr(sorted(chunk.items())).encode()).hexdigest()[:16]


@DBOS.step()
def encode(chunk: dict[str, int]) -> str:
    return _encode(chunk)


@DBOS.workflow()
def encode_chunk(chunk: dict[str, int]) -> str:
    return encode(chunk)


@DBOS.step()
def assemble(parts: list[str]) -> str:
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]


@DBOS.workflow()
def pipeline(video: dict[str, Any], fan_out: bool) -> str:
    meta = validate(video)
    chunks = split(meta)
    if fan_out:
        # DBOS's fan-out: a child workflow per chunk, started durably, then joined.
        handles = [DBOS.start_workflow(encode_chunk, chunk) for chunk in chunks]
        parts = [handle.get_result() for handle in handles]
    else:
        parts = [encode(chunk) for chunk in chunks]
    return assemble(parts)


def _expected_pipeline() -> str:
    size = VIDEO["frames"] // CHUNKS  # type: ignore[operator]
    parts = [_encode({"index": i, "first": i * size, "frames": size}) for i in range(CHUNKS)]
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]


def _roundtrip(workflow: Any, args: tuple[Any, ...], expected: Any) -> drive.Roundtrip:
    def run() -> None:
        result = DBOS.start_workflow(workflow, *args).get_result()
        if result != expected:
            raise AssertionError(f"{workflow.__name__} returned {result!r}, not {expected!r}")

    return run


class _Measure:
    def __init__(self, plan: Plan, backend: str, details: dict[str, Any]) -> None:
        self.plan = plan
        self.backend = backend
        self.details = details
        self.figures: list[Figure] = []

    def latency(self, workload: str, metric: str, result: drive.Sequential,
                target: Target | None, **extra: Any) -> None:
        self.figures.append(Figure("dbos", self.backend, workload, metric, result.latency.median,
                                   "ms", target, details={**result.latency.as_dict(),
                                                          **self.details, **extra}))

    def rate(self, metric: str, value: float, target: Target | None) -> None:
        self.figures.append(Figure("dbos", self.backend, "W1", metric, value, "exec/s", target,
                                   lower_is_better=False, details=dict(self.details)))


def measure(plan: Plan, backend: str, only: set[str], fan_out: bool,
            details: dict[str, Any]) -> list[Figure]:
    """The same loops and counts as Redwood's W1, W2, W3."""
    m = _Measure(plan, backend, details)
    if not only or "W1" in only:
        for flavour, workflow in (("sync", ten_steps), ("async", ten_steps_async)):
            run = _roundtrip(workflow, (0,), STEPS)
            drive.warm_up(run, plan.warmup)
            sequential = drive.sequential(run, plan.sequential)
            m.latency("W1", f"median latency ({flavour})", sequential, W1_MEDIAN)
            m.rate(f"back-to-back ({flavour})", sequential.per_second, W1_BACK_TO_BACK)
            drive.in_flight(run, plan.clients, 1)
            m.rate(f"{plan.clients} in flight ({flavour})",
                   drive.in_flight(run, plan.clients, plan.per_client),
                   W1_IN_FLIGHT if plan.clients == 50 else None)
    if not only or "W2" in only:
        run = _roundtrip(pipeline, (VIDEO, fan_out), _expected_pipeline())
        drive.warm_up(run, plan.warmup // 5 + 1)
        m.latency("W2", "median latency", drive.sequential(run, plan.pipeline), None,
                  fanout="child workflows" if fan_out else "sequential (map pending)")
    if not only or "W3" in only:
        run = _roundtrip(counter, (), 2)
        drive.warm_up(run, plan.warmup)
        m.latency("W3", "median latency", drive.sequential(run, plan.counter), W3_MEDIAN)
    return m.figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--system-database-url", required=True)
    parser.add_argument("--plan", choices=sorted(PLANS), required=True)
    parser.add_argument("--only", default="")
    parser.add_argument("--fan-out", action="store_true")
    args = parser.parse_args()
    url: str = args.system_database_url
    backend = "postgresql" if url.startswith("postgres") else "sqlite"
    details: dict[str, Any] = {"dbos": version("dbos")}
    if backend == "sqlite":
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as connection:
            details["journal_mode"] = connection.execute("PRAGMA journal_mode").fetchone()[0]
    config: DBOSConfig = {"name": "redwood-bench", "system_database_url": url,
                          "log_level": "WARNING"}
    logging.getLogger("dbos").setLevel(logging.WARNING)
    DBOS(config=config)
    DBOS.launch()
    try:
        only = {k for k in args.only.split(",") if k}
        figures = measure(PLANS[args.plan], backend, only, args.fan_out, details)
    finally:
        DBOS.destroy()
    print(json.dumps([f.as_dict() for f in figures]))


if __name__ == "__main__":
    main()

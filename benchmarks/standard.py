"""The in-process workloads: the commit floor, W1, W2 and W3, on Redwood with an embedded
worker, interleaved round by round with the raw commit probe and with any peers (DBOS)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import contenders, drive, fanout, floor
from benchmarks.contenders import Contender, Local
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
from benchmarks.stats import Summary
from redwood import App, DurableFunction

REDWOOD = "redwood"
RAW = "raw commit"


class Meter:
    """Counts the store's commits made during each round trip of a sequential loop."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.per_call: list[int] = []

    def commits(self) -> int | None:
        value = getattr(self.app.store, "commits", None)
        return value if isinstance(value, int) else None

    def wrap(self, run: drive.Roundtrip) -> drive.Roundtrip:
        def counted() -> None:
            before = self.commits()
            run()
            after = self.commits()
            if before is not None and after is not None:
                self.per_call.append(after - before)

        return counted

    def mean_of_last(self, count: int) -> float | None:
        """Commits per round trip over the last ``count`` (the measured ones)."""
        tail = self.per_call[-count:]
        return sum(tail) / len(tail) if len(tail) == count else None


def roundtrip(app: App, function: DurableFunction[Any, Any], payload: Any,
              expected: Any) -> Callable[[], None]:
    """Start one execution and wait for its result, checking it."""

    def run() -> None:
        result = app.start(function, payload).result(timeout=120)
        if result != expected:
            raise AssertionError(f"{function.name} returned {result!r}, expected {expected!r}")

    return run


def _contenders(bench: Bench, workload: str, run: drive.Roundtrip | None) -> list[Contender]:
    mine: list[Contender] = [] if run is None else [Local(REDWOOD, {workload: run})]
    return mine + list(bench.peers)


def peer_details(bench: Bench, system: str) -> dict[str, Any]:
    """What a peer said about itself (version, journal mode...), for its figures."""
    for peer in bench.peers:
        if peer.system == system:
            return {k: v for k, v in getattr(peer, "info", {}).items() if k != "w2_fanout"}
    return {}


def _latency(bench: Bench, system: str, workload: str, metric: str, result: drive.Sequential,
             target: Target | None, **details: Any) -> Figure:
    return Figure(system, bench.backend, workload, metric, result.latency.median, "ms", target,
                  details={**result.latency.as_dict(), **peer_details(bench, system), **details})


@workload("floor", "one durable commit (one small insert) on the same disk or server")
def commit_floor(bench: Bench) -> list[Figure]:
    """Median latency of one durable commit, measured alone (W1 measures it again, interleaved)."""
    probe = floor.probe(bench.backend, bench.database, bench.scratch)
    bench.shared["probe"] = probe
    drive.warm_up(probe.commit, 20)
    samples, _ = drive.timed(probe.commit, bench.plan.floor_commits)
    summary = Summary.of_seconds(samples)
    return [Figure(RAW, bench.backend, "floor", "commit median (alone)", summary.median, "ms",
                   details={**summary.as_dict(), "how": probe.how})]


@workload("W1", f"{STEPS} sequential trivial steps, start to result, embedded worker")
def w1(bench: Bench) -> list[Figure]:
    """Latency, back-to-back rate and in-flight rate, for a sync and an async function; each
    Redwood execution is followed by one raw commit, timed apart, for the floor."""
    plan = bench.plan
    probe: floor.Probe | None = bench.shared.get("probe")
    figures = []
    for flavour in ("sync", "async"):
        name = f"W1-{flavour}"
        mine: list[Contender] = []
        meter, local = None, None
        if bench.app is not None:
            functions: Functions = bench.shared["functions"]
            function = functions.ten_steps if flavour == "sync" else functions.ten_steps_async
            meter = Meter(bench.app)
            local = Local(REDWOOD, {name: meter.wrap(roundtrip(bench.app, function, 0, STEPS))},
                          companion=probe.commit if probe else None)
            mine = [local]
        racers = mine + list(bench.peers)
        results = contenders.sequential(racers, name, plan.sequential, plan.warmup, plan.rounds)
        for system, result in results.items():
            figures.append(_latency(bench, system, "W1", f"median latency ({flavour})", result,
                                    W1_MEDIAN))
            figures.append(Figure(system, bench.backend, "W1", f"back-to-back ({flavour})",
                                  result.per_second, "exec/s", W1_BACK_TO_BACK,
                                  lower_is_better=False,
                                  details={"n": result.latency.n,
                                           **peer_details(bench, system)}))
        if local is not None and meter is not None and local.companion_samples:
            raw = Summary.of_seconds(local.companion_samples)
            figures.append(Figure(RAW, bench.backend, "floor",
                                  f"commit median (after each W1 {flavour})", raw.median, "ms",
                                  details=raw.as_dict()))
            figures += _floor_ratio(bench, flavour, results[REDWOOD], raw,
                                    meter.mean_of_last(plan.sequential))
        rates = contenders.in_flight(racers, name, plan.clients, plan.per_client, plan.rounds)
        for system, rate in rates.items():
            figures.append(Figure(system, bench.backend, "W1",
                                  f"{plan.clients} in flight ({flavour})", rate, "exec/s",
                                  W1_IN_FLIGHT if plan.clients == 50 else None,
                                  lower_is_better=False,
                                  details={"clients": plan.clients, "per_client": plan.per_client,
                                           **peer_details(bench, system)}))
    return figures


def _floor_ratio(bench: Bench, flavour: str, redwood: drive.Sequential, raw: Summary,
                 per_execution: float | None) -> list[Figure]:
    if per_execution is None:
        return []
    floor_ms = per_execution * raw.median
    return [Figure(REDWOOD, bench.backend, "W1", f"median / commit floor ({flavour})",
                   redwood.latency.median / floor_ms, "x", W1_FLOOR_RATIO,
                   details={"commits_per_execution": round(per_execution, 3),
                            "commit_ms": round(raw.median, 4),
                            "floor_ms": round(floor_ms, 4)})]


@workload("W2", "video pipeline: validate, split into 10 chunks, encode each, assemble")
def w2(bench: Bench) -> list[Figure]:
    """Start-to-result latency of the pipeline (trivial encode)."""
    run = None
    if bench.app is not None:
        functions: Functions = bench.shared["functions"]
        run = roundtrip(bench.app, functions.pipeline, VIDEO, PIPELINE_RESULT)
    results = contenders.sequential(_contenders(bench, "W2", run), "W2", bench.plan.pipeline,
                                    bench.plan.warmup // 5 + 1, bench.plan.rounds)
    modes = {p.system: getattr(p, "info", {}).get("w2_fanout") for p in bench.peers}
    return [_latency(bench, system, "W2", "median latency", result, None,
                     fanout=modes.get(system) or fanout.MODE)
            for system, result in results.items()]


@workload("W3", "counter: +1, +2, read, -1 -> 2")
def w3(bench: Bench) -> list[Figure]:
    """Start-to-result latency of the counter."""
    run, meter = None, None
    if bench.app is not None:
        functions: Functions = bench.shared["functions"]
        meter = Meter(bench.app)
        run = meter.wrap(roundtrip(bench.app, functions.counter, None, 2))
    results = contenders.sequential(_contenders(bench, "W3", run), "W3", bench.plan.counter,
                                    bench.plan.warmup, bench.plan.rounds)
    figures = []
    for system, result in results.items():
        details: dict[str, Any] = {}
        if system == REDWOOD and meter is not None:
            details["commits_per_execution"] = meter.mean_of_last(bench.plan.counter)
        figures.append(_latency(bench, system, "W3", "median latency", result, W3_MEDIAN,
                                **details))
    return figures

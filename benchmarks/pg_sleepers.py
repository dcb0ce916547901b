"""W4 on PostgreSQL at scale: 10,000 executions sleeping until the same moment, spread over
several worker processes. Wake-up lateness, and memory per sleeping execution in the workers.

    python -m benchmarks.pg_sleepers [--quick | --tiny] [--count 10000] [--processes 2]
                                     [--lead 5]

Each execution waits (``ctx.wait``) until a common deadline ``--lead`` seconds after the first
start, then records the time in a step. This process starts them (8 threads) while the worker
processes run. Lateness is when the step after the wait ran minus the wait's scheduled end (an
execution started less than a second before the deadline waits ctx.wait's minimum second).

When not every execution was asleep before the deadline (starting them took longer than the
lead), a second run uses a deadline far enough ahead that all sleep together. Memory: the
worker processes' resident set and live Python objects once every execution sleeps, minus the
same after a warm-up, per sleeping execution.

Writes benchmarks/results/pg_sleepers.json and pg_sleepers.md (or into --out).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks import pg_common, report
from benchmarks.model import W4_PG_P99_LATENESS, Figure
from benchmarks.pg_fleet import MIN_WAIT, Fleet, register
from benchmarks.stats import Summary
from redwood import App

STARTERS = 8


@dataclass(frozen=True, slots=True)
class SleepPlan:
    """How many sleepers, on how many worker processes, how far ahead."""

    name: str
    count: int
    processes: int
    lead: float
    # Sleepers per worker process before the baseline: enough to run a full pool of invocation
    # threads (64), whose creation would otherwise count as memory held by the sleepers.
    warmup: int


PLANS = {
    "full": SleepPlan("full", count=10_000, processes=2, lead=5.0, warmup=200),
    "quick": SleepPlan("quick", count=2_000, processes=2, lead=5.0, warmup=200),
    # A smoke test of the script (the test suite runs it): figures mean nothing.
    "tiny": SleepPlan("tiny", count=6, processes=2, lead=3.0, warmup=2),
}


def run(plan: SleepPlan, lead: float, database: str | None = None) -> dict[str, Any]:
    """One run on a fresh database (or ``database``) and fresh worker processes; the raw
    measurements."""
    with pg_common.scratch_database("redwood_bench_sleepers", database) as url, \
            App(url) as app:
        register(app)
        function = app.registry.get("sleep_until")
        census = pg_common.Census(url)
        try:
            with Fleet(url, plan.processes) as fleet:
                # A backlog first, so that the workers start with every invocation slot busy.
                soon = time.time() + MIN_WAIT
                warmup = [app.start(function, soon) for _ in range(plan.warmup * plan.processes)]
                fleet.tell("start")
                for handle in warmup:
                    handle.result(timeout=120)
                baseline = fleet.tell("stats")
                since = time.time()
                deadline = since + lead
                with ThreadPoolExecutor(STARTERS) as starters:
                    list(starters.map(lambda _: app.start(function, deadline), range(plan.count)))
                started = time.time() - since
                asleep_at = _all_asleep(census, fleet, since, plan.count, deadline + 600)
                sleeping = fleet.tell("stats") if asleep_at < deadline else None
                _all_woke(census, since, plan.count, deadline + 600 + plan.count / 10)
                woke = fleet.tell("stats")
                records = census.wake_ups(since)
        finally:
            census.close()
    return {"lead": lead, "deadline": deadline, "since": since, "start_seconds": started,
            # When the last wait was recorded: how long it took to put them all to sleep.
            "asleep_seconds": max(at for _, _, at in records) - since,
            "baseline": baseline, "sleeping": sleeping, "woke": woke, "records": records}


def _all_asleep(census: pg_common.Census, fleet: Fleet, since: float, count: int,
                give_up: float) -> float:
    """When every execution was seen asleep with no invocation running (or the deadline
    passed first: the executions then wake while others still start)."""
    while True:
        if census.sleeping(since) == count:
            if not any(s["in_flight"] for s in fleet.tell("stats")):
                return time.time()
        elif census.count(since, "SUCCEEDED") > 0:
            return float("inf")  # some already woke: they never all slept at once
        if time.time() > give_up:
            raise TimeoutError(f"{count} sleepers did not all fall asleep")
        time.sleep(0.05)


def _all_woke(census: pg_common.Census, since: float, count: int, give_up: float) -> None:
    while census.count(since, "SUCCEEDED") < count:
        if time.time() > give_up:
            raise TimeoutError(f"{count} sleepers did not all wake up")
        time.sleep(0.1)


def figures(plan: SleepPlan, data: dict[str, Any]) -> list[Figure]:
    """The figures of one run."""
    lead, deadline, records = data["lead"], data["deadline"], data["records"]
    label = f"{plan.count:,}, deadline +{lead:g} s"
    on_time = [woke - due for woke, due, at in records if at < deadline]
    late_start = len(records) - len(on_time)
    lateness = Summary.of_seconds([woke - due for woke, due, _ in records])
    shared = {"executions": plan.count, "worker_processes": plan.processes,
              "lead_seconds": lead, "start_seconds": round(data["start_seconds"], 2),
              "asleep_before_deadline": len(on_time), "recorded_after_deadline": late_start}
    result = [
        Figure("redwood", "postgresql", "W4", f"p99 wake-up lateness ({label})", lateness.p99,
               "ms", W4_PG_P99_LATENESS if plan.count >= 10_000 else None,
               details={**lateness.as_dict(), **shared}),
        Figure("redwood", "postgresql", "W4", f"p50 wake-up lateness ({label})",
               lateness.median, "ms", details=shared),
        Figure("redwood", "postgresql", "W4", f"time to start them all ({label})",
               data["start_seconds"], "s",
               details={**shared, "starts_per_second": round(plan.count / data["start_seconds"],
                                                             1),
                        "asleep_seconds": round(data["asleep_seconds"], 2)}),
        Figure("redwood", "postgresql", "W4", f"last wake-up after the deadline ({label})",
               max(woke for woke, _, _ in records) - deadline, "s", details=shared),
    ]
    if on_time:
        summary = Summary.of_seconds(on_time)
        result.append(Figure(
            "redwood", "postgresql", "W4", f"p99 lateness of those asleep before it ({label})",
            summary.p99, "ms", details={**summary.as_dict(), **shared}))
    if data["sleeping"] is not None:
        result += _memory(plan, data, label, shared)
        pairs = list(zip(data["woke"], data["sleeping"], strict=True))
        cpu = sum(w["cpu_seconds"] - s["cpu_seconds"] for w, s in pairs)
        transactions = sum(w["transactions"] - s["transactions"] for w, s in pairs)
        result.append(Figure(
            "redwood", "postgresql", "W4", f"worker CPU per wake-up ({label})",
            1000 * cpu / plan.count, "ms",
            details={**shared, "transactions_per_execution": round(transactions / plan.count,
                                                                   2)}))
    return result


def _memory(plan: SleepPlan, data: dict[str, Any], label: str,
            shared: dict[str, Any]) -> list[Figure]:
    pairs = list(zip(data["sleeping"], data["baseline"], strict=True))
    rss = sum(s["rss_bytes"] - b["rss_bytes"] for s, b in pairs)
    objects = sum(s["python_objects"] - b["python_objects"] for s, b in pairs)
    grown: Counter[str] = Counter()
    for sleeping, baseline in pairs:
        grown.update({k: v - baseline["types"].get(k, 0) for k, v in sleeping["types"].items()})
    return [
        Figure("redwood", "postgresql", "W4", f"RSS per sleeping execution ({label})",
               rss / plan.count / 1024, "KiB",
               details={**shared, "rss_delta_bytes": rss,
                        "rss_delta_bytes_per_process":
                            [s["rss_bytes"] - b["rss_bytes"] for s, b in pairs],
                        "rss_after_warmup_bytes": [b["rss_bytes"] for _, b in pairs]}),
        Figure("redwood", "postgresql", "W4", f"Python objects per sleeping execution ({label})",
               objects / plan.count, "objects",
               details={**shared, "objects_delta": objects,
                        "grown_types": dict(grown.most_common(6))}),
    ]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_sleepers",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="2,000 sleepers")
    size.add_argument("--tiny", action="store_true",
                      help="a smoke test of the script (figures mean nothing)")
    parser.add_argument("--count", type=int, help="sleeping executions")
    parser.add_argument("--processes", type=int, help="worker processes")
    parser.add_argument("--lead", type=float, help="seconds from the first start to the deadline")
    parser.add_argument("--database", metavar="URL",
                        help="an existing PostgreSQL database (default: a scratch one per run)")
    parser.add_argument("--out", type=Path, default=pg_common.RESULTS,
                        help="where pg_sleepers.json/.md go")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """One run with the deadline ``--lead`` ahead; a second with a deadline far enough ahead
    for all to sleep together, when the first could not start them all in time."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    plan = PLANS["tiny" if args.tiny else "quick" if args.quick else "full"]
    plan = replace(plan, count=args.count or plan.count,
                   processes=args.processes or plan.processes, lead=args.lead or plan.lead)
    info = pg_common.meta(plan.name, ["python", "-m", "benchmarks.pg_sleepers", *argv],
                          pg_common.server_of(args.database))
    notes: list[str] = []
    measured: list[Figure] = []
    lead = plan.lead
    for attempt in range(2):
        print(f"-- {plan.count:,} sleepers on {plan.processes} worker processes, deadline "
              f"{lead:g} s ahead", flush=True)
        def measure(lead: float = lead) -> dict[str, Any]:
            return run(plan, lead, args.database)

        data = pg_common.redo_after_restart(measure, f"{plan.count:,} sleepers", notes,
                                            pg_common.server_of(args.database))
        for figure in figures(plan, data):
            print(report.console_line(figure), flush=True)
            measured.append(figure)
        if data["sleeping"] is not None or attempt == 1:
            break
        # They did not all sleep at once: again, with room for every start before the deadline.
        notes.append(f"Starting {plan.count:,} sleepers took {data['start_seconds']:.1f} s "
                     f"(the last wait recorded after {data['asleep_seconds']:.1f} s), more than "
                     f"the {lead:g} s lead; a second run gave them a deadline far enough ahead "
                     "to sleep together.")
        lead = round(data["asleep_seconds"] * 1.5 + 10.0)
    pg_common.finish(info, pg_common.server_of(args.database))
    json_path, md_path = report.write(args.out, info, measured, [], notes, name="pg_sleepers",
                                      title="Sleepers on PostgreSQL: worker processes")
    print(f"\nwrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

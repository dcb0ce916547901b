"""W1 on PostgreSQL with workers in their own processes: latency and 50 in flight with one
worker, and the throughput of 1, 2 and 4 worker processes draining a backlog.

    python -m benchmarks.pg_scale [--quick | --tiny] [--processes 1,2,4] [--backlog 2000]
                                  [--concurrency 64]

1. Latency: back-to-back start-to-result round trips from this process, with the worker embedded
   here (a start goes straight to it) and with one worker process (a start reaches it through
   LISTEN/NOTIFY and a claim); rounds of the two interleaved.
2. In flight: 50 client threads here, each starting an execution and waiting for its result in
   a loop, against the embedded worker and against one worker process; interleaved rounds.
3. Scaling: this process starts a backlog of executions while the worker processes are paused,
   then starts them all and times until the last execution ended (``ended_at`` in the store).
   CPU per execution: the worker processes', the PostgreSQL backends' serving this database,
   and the whole machine's. The ladder of process counts is repeated; medians are reported.

Writes benchmarks/results/pg_scale.json and pg_scale.md (or into --out).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks import drive, floor, pg_common, pg_drain, report
from benchmarks.functions import STEPS
from benchmarks.model import W1_PG_IN_FLIGHT, W1_PG_MEDIAN, Figure
from benchmarks.pg_fleet import Fleet, fresh_app
from benchmarks.standard import roundtrip
from benchmarks.stats import Summary
from redwood import App

EMBEDDED = "embedded worker"
PROCESS = "1 worker process"


@dataclass(frozen=True, slots=True)
class ScalePlan:
    """How much of each part to run."""

    name: str
    warmup: int
    sequential: int
    rounds: int
    clients: int
    per_client: int
    backlog: int
    processes: tuple[int, ...]
    repeats: int
    # Seconds of raw commits from as many connections as a worker's pool, per round.
    raw_seconds: float


PLANS = {
    "full": ScalePlan("full", warmup=30, sequential=300, rounds=3, clients=50, per_client=20,
                      backlog=2000, processes=(1, 2, 4), repeats=3, raw_seconds=3.0),
    "quick": ScalePlan("quick", warmup=10, sequential=100, rounds=2, clients=50, per_client=8,
                       backlog=600, processes=(1, 2, 4), repeats=1, raw_seconds=2.0),
    # A smoke test of the script (the test suite runs it): figures mean nothing.
    "tiny": ScalePlan("tiny", warmup=1, sequential=4, rounds=2, clients=2, per_client=2,
                      backlog=6, processes=(1, 2), repeats=1, raw_seconds=0.2),
}
# A worker's connection pool (PostgresStore's default max_connections).
POOL = 10


@dataclass
class _Tally:
    """What the latency part gathers for one contender over its rounds."""

    samples: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    # Transactions (reads and writes, client and worker) per execution, back to back; the
    # client's alone with many in flight (result waiters read the execution when woken).
    sequential_transactions: list[float] = field(default_factory=list)
    client_transactions: list[float] = field(default_factory=list)
    # CPU ms per execution with many in flight: this (client) process's, the worker process's.
    client_cpu: list[float] = field(default_factory=list)
    worker_cpu: list[float] = field(default_factory=list)


def latency(plan: ScalePlan, database: str | None) -> list[Figure]:
    """Round trips back to back and from ``plan.clients`` threads, embedded worker vs one
    worker process, and one raw commit for scale, interleaved round by round."""
    tallies = {EMBEDDED: _Tally(), PROCESS: _Tally()}
    commits: list[float] = []
    rates: list[float] = []
    n = max(1, plan.sequential // plan.rounds)
    with fresh_app(database, "redwood_bench_scale") as (app, url), Fleet(url, 1) as fleet:
        run = roundtrip(app, app.registry.get("ten_steps"), 0, STEPS)
        probe = floor.PostgresProbe(url)
        try:
            for _ in range(plan.rounds):
                for who, tally in tallies.items():
                    with _serving(app, fleet, who):
                        _round(app, fleet if who == PROCESS else None, run, plan, tally)
                drive.warm_up(probe.commit, plan.warmup)
                commits += drive.timed(probe.commit, n)[0]
                rates.append(floor.commit_rate(url, POOL, plan.raw_seconds))
        finally:
            probe.close()
    commit = Summary.of_seconds(commits)
    rate = statistics.median(rates)
    figures = [
        Figure("raw commit", "postgresql", "floor", "commit median (interleaved)",
               commit.median, "ms", details={**commit.as_dict(), "how": probe.how}),
        Figure("raw commit", "postgresql", "floor", f"commits/s from {POOL} connections",
               rate, "commit/s", lower_is_better=False,
               details={"rounds": [round(r) for r in rates], "how": probe.how}),
        # W1 needs 11 commits (10 steps, and the start or the claim): what is left of the raw
        # rate for executions if the engine cost nothing.
        Figure("raw commit", "postgresql", "floor", "W1 ceiling from commits alone",
               rate / (STEPS + 1), "exec/s", lower_is_better=False,
               details={"commits_per_execution": STEPS + 1}),
    ]
    for who, tally in tallies.items():
        figures += _latency_figures(who, tally, commit.median, plan)
    return figures


def _round(app: App, fleet: Fleet | None, run: drive.Roundtrip, plan: ScalePlan,
           tally: _Tally) -> None:
    def worker() -> dict[str, Any]:
        return fleet.tell("stats")[0] if fleet is not None else {"transactions": 0,
                                                                  "cpu_seconds": 0.0}

    n = max(1, plan.sequential // plan.rounds)
    drive.warm_up(run, plan.warmup)
    before = _transactions(app) + worker()["transactions"]
    tally.samples += drive.timed(run, n)[0]
    worker_before = worker()
    tally.sequential_transactions.append(
        (_transactions(app) + worker_before["transactions"] - before) / n)
    client, client_cpu = _transactions(app), _cpu_seconds()
    tally.rates.append(drive.in_flight(run, plan.clients, plan.per_client))
    done = plan.clients * plan.per_client
    tally.client_cpu.append(1000 * (_cpu_seconds() - client_cpu) / done)
    tally.worker_cpu.append(1000 * (worker()["cpu_seconds"] - worker_before["cpu_seconds"])
                            / done)
    tally.client_transactions.append((_transactions(app) - client) / done)


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _latency_figures(who: str, tally: _Tally, commit_ms: float,
                     plan: ScalePlan) -> list[Figure]:
    summary = Summary.of_seconds(tally.samples)
    transactions = statistics.median(tally.sequential_transactions)
    return [
        Figure("redwood", "postgresql", "W1", f"median latency ({who})", summary.median, "ms",
               W1_PG_MEDIAN, details={**summary.as_dict(),
                                      "transactions_per_execution": round(transactions, 2)}),
        Figure("redwood", "postgresql", "W1", f"median / commit median ({who})",
               summary.median / commit_ms, "x",
               details={"commit_ms": round(commit_ms, 4),
                        "transactions_per_execution": round(transactions, 2)}),
        Figure("redwood", "postgresql", "W1", f"{plan.clients} in flight ({who})",
               statistics.median(tally.rates), "exec/s",
               W1_PG_IN_FLIGHT if plan.clients == 50 else None, lower_is_better=False,
               details={"clients": plan.clients, "per_client": plan.per_client,
                        "rounds": [round(r, 1) for r in tally.rates],
                        "client_transactions_per_execution":
                            round(statistics.median(tally.client_transactions), 2),
                        "client_cpu_ms": round(statistics.median(tally.client_cpu), 3),
                        # Embedded, the client process is the worker process.
                        **({"worker_cpu_ms": round(statistics.median(tally.worker_cpu), 3)}
                           if who == PROCESS else {})}),
    ]


class _serving:
    """The embedded worker, or the worker process, runs while the block does (not both)."""

    def __init__(self, app: App, fleet: Fleet, who: str) -> None:
        self.app, self.fleet, self.who = app, fleet, who
        self._embedded: Any = None

    def __enter__(self) -> None:
        if self.who == EMBEDDED:
            self._embedded = self.app.run_worker()
            self._embedded.__enter__()
        else:
            self.fleet.tell("start")

    def __exit__(self, *exc: object) -> None:
        if self.who == EMBEDDED:
            self._embedded.__exit__(*exc)
        else:
            self.fleet.tell("pause")


def _transactions(app: App) -> int:
    return int(getattr(app.store, "transactions", 0))


def scaling(plan: ScalePlan, database: str | None, notes: list[str],
            concurrency: int = 64) -> list[Figure]:
    """The ladder of process counts, ``plan.repeats`` times, each drain on a fresh database;
    medians per count, and the ratios of the counts to one process."""
    server = pg_common.server_of(database)
    drains: dict[int, list[pg_drain.Drain]] = {k: [] for k in plan.processes}
    for repeat in range(plan.repeats):
        # Alternate the ladder's direction so a drift in the machine's load does not favour
        # the counts that happen to run first.
        ladder = plan.processes if repeat % 2 == 0 else tuple(reversed(plan.processes))
        for processes in ladder:
            def measure(processes: int = processes) -> pg_drain.Drain:
                return pg_drain.drain(processes, plan.backlog, database, concurrency)

            result = pg_common.redo_after_restart(
                measure, f"drain by {processes} worker processes", notes, server)
            print(f"   {processes} worker process(es): {result.per_second:,.0f} exec/s "
                  f"(steady {result.steady_per_second:,.0f}), worker CPU "
                  f"{1000 * result.worker_cpu / result.executions:.2f} ms/exec", flush=True)
            drains[processes].append(result)
    figures = []
    rate = {k: statistics.median(d.per_second for d in v) for k, v in drains.items()}
    for processes, results in drains.items():
        figures += pg_drain.figures(processes, results)
    for processes in plan.processes[1:]:
        figures.append(Figure(
            "redwood", "postgresql", "W1", f"scaling {processes}/1 worker processes",
            rate[processes] / rate[plan.processes[0]], "x", lower_is_better=False,
            details={"ideal": float(processes), "per_second": round(rate[processes], 1),
                     "per_second_1": round(rate[plan.processes[0]], 1)}))
    return figures


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer executions (a few minutes)")
    size.add_argument("--tiny", action="store_true",
                      help="a smoke test of the script (figures mean nothing)")
    parser.add_argument("--processes", help="worker process counts, e.g. 1,2,4 (first = base)")
    parser.add_argument("--backlog", type=int, help="executions per drain")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="invocations each worker process runs at once in the drains "
                             "(default 64, as `redwood worker`)")
    parser.add_argument("--database", metavar="URL",
                        help="an existing PostgreSQL database (default: a scratch one)")
    parser.add_argument("--out", type=Path, default=pg_common.RESULTS,
                        help="where pg_scale.json/.md go")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the three parts on a scratch database; print and write the figures."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    plan = PLANS["tiny" if args.tiny else "quick" if args.quick else "full"]
    if args.processes:
        plan = replace(plan, processes=tuple(int(x) for x in args.processes.split(",")))
    if args.backlog:
        plan = replace(plan, backlog=args.backlog)
    info = pg_common.meta(plan.name, ["python", "-m", "benchmarks.pg_scale", *argv],
                          pg_common.server_of(args.database))
    server = pg_common.server_of(args.database)
    notes = [f"{pg_drain.CORES} CPUs: worker processes, this client and PostgreSQL share them, so more "
             f"processes than CPUs cannot scale linearly; cores_busy says how saturated the "
             f"machine was during a drain."]
    print("-- latency and in flight, one worker", flush=True)
    figures = pg_common.redo_after_restart(lambda: latency(plan, args.database), "latency",
                                           notes, server)
    _show(figures)
    print("-- throughput by worker processes", flush=True)
    scaled = scaling(plan, args.database, notes, args.concurrency)
    _show(scaled)
    figures += scaled
    pg_common.finish(info, server)
    json_path, md_path = report.write(args.out, info, figures, [], notes, name="pg_scale",
                                      title="W1 on PostgreSQL: worker processes")
    print(f"\nwrote {json_path} and {md_path}")
    return 0


def _show(figures: list[Figure]) -> None:
    for figure in figures:
        print(report.console_line(figure), flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""The lower bound of W1 on SQLite: what the writes of one W1 execution cost with no engine
around them, beside what Redwood takes for the whole execution, in the same run.

    python -m benchmarks.bound [--quick | --tiny] [--out DIR]

The bound sends, from one thread, exactly the transactions Redwood's SQLite store commits for
one W1 execution (10 sequential trivial steps): the start (the execution row and its
ExecutionStarted event), nine checkpoints (fence read, the step's operation row, its two history
events: each step's result is durable before the next step's body runs), the final commit (the
last step, the invocation's and the execution's ending), then the result read on a second
connection. The same schema, the same statements (imported from the store), the same pragmas.
Nothing else: no functions, no replay, no threads, no serialization.

Two durabilities: ``os-crash`` (synchronous=FULL, the default) is the latency bound, the 11
commits' fsyncs plus SQLite's own work; ``none`` (synchronous=OFF) leaves only the CPU that
SQLite and the sqlite3 module spend on those statements. Redwood's W1 (embedded worker, start to
result) runs in rounds taking turns with the bound, so both see the same load; each figure has
its ratio to the bound. No engine can go below the bound with these statements; a target below
it needs a faster disk or fewer commits.

Writes benchmarks/results/bound.json and bound.md (or into --out).
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.functions import STEPS, Functions
from benchmarks.model import W1_BACK_TO_BACK, W1_MEDIAN, Figure
from benchmarks.registry import ROOT
from benchmarks.stats import Summary
from redwood import App
from redwood.store.common import GET_EXECUTION, INSERT_EVENT, UPSERT_OPERATION
from redwood.store.sqlite import CREATE_EXECUTION, END_EXECUTION, fence

SYNCHRONOUS = {"os-crash": "FULL", "none": "OFF"}


@dataclass(frozen=True, slots=True)
class BoundPlan:
    """How many executions: warm-up (which also recycles the write-ahead log), then rounds."""

    name: str
    warmup: int
    rounds: int
    per_round: int


PLANS = {
    "full": BoundPlan("full", warmup=300, rounds=5, per_round=300),
    "quick": BoundPlan("quick", warmup=200, rounds=3, per_round=100),
    # A smoke test of the script (the test suite runs it): figures mean nothing.
    "tiny": BoundPlan("tiny", warmup=2, rounds=1, per_round=3),
}


class Statements:
    """One W1 execution's transactions, sent straight through sqlite3 on a store's file."""

    def __init__(self, path: Path, durability: str) -> None:
        App(path).close()  # the store's schema, by its own migrations
        self._writer = self._connect(path, durability)
        self._reader = self._connect(path, durability)
        self._n = 0

    @staticmethod
    def _connect(path: Path, durability: str) -> sqlite3.Connection:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {SYNCHRONOUS[durability]}")
        return connection

    def execution(self) -> None:
        """Start, nine checkpoints, the ending, the result read."""
        self._n += 1
        eid, now, w = f"bound-{self._n}", time.time(), self._writer
        w.execute("BEGIN IMMEDIATE")
        w.execute(CREATE_EXECUTION, (eid, "ten_steps", "0", now, now + 30, "bound", now + 30, 1,
                                     None, None, None, 1)).fetchone()
        w.execute(INSERT_EVENT, (eid, "ExecutionStarted", None, None, None, "ten_steps", now,
                                 '{"input":"0","function":"ten_steps"}', None))
        w.execute("COMMIT")
        for step in range(1, STEPS + 1):
            w.execute("BEGIN IMMEDIATE")
            w.execute(fence(1), (eid,)).fetchall()
            op = str(step)
            w.executemany(UPSERT_OPERATION, [(eid, op, None, "STEP", None, "bump", "SUCCEEDED",
                                              1, op, None, None, now, now, None)])
            events = [(eid, "StepStarted", None, op, None, "bump", now,
                       f'{{"attempt":1,"started_at":{now}}}', None),
                      (eid, "StepSucceeded", None, op, None, "bump", now, '{"attempt":1}',
                       "operation")]
            if step == STEPS:
                events += [(eid, "InvocationCompleted", None, None, None, None, now,
                            '{"ending":"SUCCEEDED","invocation":1}', None),
                           (eid, "ExecutionSucceeded", None, None, None, None, now, None,
                            "execution")]
            w.executemany(INSERT_EVENT, events)
            if step == STEPS:
                w.executemany(END_EXECUTION, [("SUCCEEDED", "10", None, now, eid)])
            w.execute("COMMIT")
        if self._reader.execute(GET_EXECUTION, (eid,)).fetchone()[4] != "10":
            raise AssertionError("the bound's execution has no result")

    def close(self) -> None:
        self._writer.close()
        self._reader.close()


Roundtrip = Callable[[], None]


def _round(roundtrip: Roundtrip, count: int) -> tuple[list[float], float, float]:
    """``count`` round trips back-to-back: each one's seconds, the elapsed and the CPU seconds."""
    samples = []
    cpu, began = time.process_time(), time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        roundtrip()
        samples.append(time.perf_counter() - t0)
    return samples, time.perf_counter() - began, time.process_time() - cpu


def measure(durability: str, plan: BoundPlan, scratch: Path) -> dict[str, dict[str, Any]]:
    """The bound and Redwood's W1, back-to-back, in rounds taking turns."""
    bound = Statements(scratch / f"bound-{durability}.db", durability)
    app = App(scratch / f"redwood-{durability}.db", durability=durability)
    function = Functions(app).ten_steps

    def redwood() -> None:
        if app.start(function, 0).result(timeout=120) != STEPS:
            raise AssertionError("W1 returned a wrong result")

    sides: dict[str, Roundtrip] = {"bound": bound.execution, "redwood": redwood}
    taken: dict[str, list[tuple[list[float], float, float]]] = {side: [] for side in sides}
    try:
        with app.run_worker():
            for roundtrip in sides.values():
                for _ in range(plan.warmup):
                    roundtrip()
            for _ in range(plan.rounds):
                for side, roundtrip in sides.items():
                    taken[side].append(_round(roundtrip, plan.per_round))
    finally:
        app.close()
        bound.close()
    result = {}
    for side, rounds in taken.items():
        samples = [s for one in rounds for s in one[0]]
        count = len(samples)
        result[side] = {"latency": Summary.of_seconds(samples),
                        "per_second": count / sum(one[1] for one in rounds),
                        "cpu_ms": 1000 * sum(one[2] for one in rounds) / count}
    return result


def figures(durability: str, data: dict[str, dict[str, Any]]) -> list[Figure]:
    """Latency, rate and CPU per execution of both sides, with Redwood's ratio to the bound."""
    bound, ours = data["bound"], data["redwood"]
    how = {"durability": durability, "commits_per_execution": STEPS + 1}
    result = []
    for system, side in (("bound", bound), ("redwood", ours)):
        latency: Summary = side["latency"]
        result += [
            Figure(system, "sqlite", "W1", f"median latency ({durability})", latency.median,
                   "ms", W1_MEDIAN if durability == "os-crash" else None,
                   details={**latency.as_dict(), **how}),
            Figure(system, "sqlite", "W1", f"back-to-back ({durability})", side["per_second"],
                   "exec/s", W1_BACK_TO_BACK if durability == "os-crash" else None,
                   lower_is_better=False, details=how),
            Figure(system, "sqlite", "W1", f"CPU per execution ({durability})", side["cpu_ms"],
                   "ms", details=how),
        ]
    result += [
        Figure("redwood", "sqlite", "W1", f"median latency / bound ({durability})",
               ours["latency"].median / bound["latency"].median, "x", details=how),
        Figure("redwood", "sqlite", "W1", f"CPU per execution / bound ({durability})",
               ours["cpu_ms"] / bound["cpu_ms"], "x", details=how),
    ]
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bound", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer executions")
    size.add_argument("--tiny", action="store_true",
                      help="a smoke test of the script (figures mean nothing)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                        help="where bound.json/.md go")
    args = parser.parse_args(argv)
    plan = PLANS["tiny" if args.tiny else "quick" if args.quick else "full"]
    info = report.meta(plan.name, shlex.join(["python", "-m", "benchmarks.bound", *argv]),
                       cpus=os.cpu_count(), python=platform.python_version(),
                       sqlite=sqlite3.sqlite_version)
    measured: list[Figure] = []
    # Scratch files beside the results: the disk the repository is on, as for the standard run.
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        for durability in SYNCHRONOUS:
            print(f"-- W1 on SQLite, durability {durability}: the bound and Redwood in turns",
                  flush=True)
            for figure in figures(durability, measure(durability, plan, Path(scratch))):
                print(report.console_line(figure), flush=True)
                measured.append(figure)
    report.finish(info)
    notes = ["The bound: the transactions Redwood's SQLite store commits for one W1 execution "
             "(start, 9 checkpoints, the ending) and the result read, sent from one thread "
             "with the store's own statements and pragmas, with no engine around them."]
    json_path, md_path = report.write(args.out, info, measured, [], notes, name="bound",
                                      title="W1 on SQLite against its lower bound")
    print(f"\nwrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

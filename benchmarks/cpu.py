"""CPU per W1 execution: what the whole process (client, worker, store) spends on one execution,
back-to-back and with 50 in flight, and how many threads switched to get it done.

    python -m benchmarks.cpu [--database URL] [--durability os-crash] [--flavour sync|async]
                             [--label NAME] [--out DIR]

CPU time is a steadier figure than latency on a shared machine, and on 2 cores with one GIL it
is what limits executions per second. To compare two versions, run this once per checkout in
turns, each with its own source first on the path:

    git worktree add /tmp/before <commit>
    PYTHONPATH=/tmp/before/src python -m benchmarks.cpu --label before
    python -m benchmarks.cpu --label after

Appends one JSON line per run to benchmarks/results/cpu.jsonl (or --out).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import drive, report
from benchmarks.functions import STEPS, Functions
from benchmarks.registry import ROOT
from redwood import App

CLIENTS = 50


@dataclass(frozen=True, slots=True)
class CpuPlan:
    """How many executions: warm-up, back-to-back, and per in-flight client."""

    warmup: int = 200
    sequential: int = 1000
    per_client: int = 40


# A smoke test of the script (the test suite runs it): figures mean nothing.
TINY = CpuPlan(warmup=2, sequential=5, per_client=1)


class _Usage:
    """Process CPU seconds and context switches since it was made."""

    def __init__(self) -> None:
        self._cpu = time.process_time()
        self._usage = resource.getrusage(resource.RUSAGE_SELF)

    def per(self, count: int) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "cpu_ms": round((time.process_time() - self._cpu) / count * 1e3, 3),
            "switches": round((usage.ru_nvcsw - self._usage.ru_nvcsw
                               + usage.ru_nivcsw - self._usage.ru_nivcsw) / count, 1),
        }


def measure(database: str, durability: str, flavour: str, plan: CpuPlan) -> dict[str, Any]:
    """Back-to-back and in-flight rates of W1, with CPU and switches per execution."""
    app = App(database, durability=durability)
    functions = Functions(app)
    function = functions.ten_steps if flavour == "sync" else functions.ten_steps_async

    def roundtrip() -> None:
        if app.start(function, 0).result(timeout=120) != STEPS:
            raise AssertionError("W1 returned a wrong result")

    with app.run_worker():
        drive.warm_up(roundtrip, plan.warmup)
        usage = _Usage()
        sequential = drive.sequential(roundtrip, plan.sequential)
        back_to_back = {"per_second": round(sequential.per_second, 1),
                        "median_ms": round(sequential.latency.median, 3),
                        **usage.per(plan.sequential)}
        usage = _Usage()
        rate = drive.in_flight(roundtrip, CLIENTS, plan.per_client)
        in_flight = {"per_second": round(rate, 1), **usage.per(CLIENTS * plan.per_client)}
    app.close()
    return {"back_to_back": back_to_back, f"{CLIENTS}_in_flight": in_flight}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="SQLite path or postgresql:// URL (default: a fresh "
                                           "SQLite file)")
    parser.add_argument("--durability", default="os-crash")
    parser.add_argument("--flavour", choices=("sync", "async"), default="sync")
    parser.add_argument("--label", default="", help="a name for this run, e.g. before/after")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--tiny", action="store_true", help="a smoke test (figures mean nothing)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        database = args.database or str(Path(scratch) / "cpu.db")
        figures = measure(database, args.durability, args.flavour,
                          TINY if args.tiny else CpuPlan())
    record = {"label": args.label, "flavour": args.flavour, "durability": args.durability,
              "store": "postgresql" if database.startswith("postgresql") else "sqlite",
              "load": report.load(), **figures}
    report.append_line(args.out, "cpu.jsonl", record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

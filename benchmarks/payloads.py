"""Large step results: what ten steps returning 100 KB each cost, beside the same ten steps
returning 100 bytes, in the same run; and how many bytes each execution leaves in the store.

    python -m benchmarks.payloads [--label NAME] [--out DIR] [--tiny]

Each execution (embedded worker, SQLite with the default durability, start to result) runs ten
sequential steps that each return a JSON object holding a text of the given size with quotes in
it (JSON escapes them). The two sizes take turns round by round, so load spikes fall on both.
Bytes are read from the store's file afterwards: the step results in the journal and the
details of the history events, per execution. To compare two versions, run it once per checkout
in turns, each with its own source first on the path (as for ``benchmarks.cpu``).

Appends one JSON line per run to benchmarks/results/payloads.jsonl (or --out).
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from benchmarks import drive, report
from benchmarks.registry import ROOT
from benchmarks.stats import Summary
from redwood import App, DurableContext

SIZES = {"small": 100, "large": 100_000}
STEPS = 10


def _run(path: Path, size: int, count: int) -> dict[str, Any]:
    """Median latency, CPU and stored bytes per execution for one result size, on a new file."""
    app = App(path)
    text = 'say "hi" ' * (size // 9)

    def make(i: int) -> dict[str, Any]:
        return {"i": i, "text": text}

    @app.function(name="payloads")
    def payloads(ctx: DurableContext) -> int:
        return sum(len(ctx.step(make, i)["text"]) for i in range(STEPS))

    def roundtrip() -> None:
        if app.start(payloads).result(timeout=120) != STEPS * len(text):
            raise AssertionError("the payloads function returned a wrong result")

    with app.run_worker():
        drive.warm_up(roundtrip, 3)
        started = time.process_time()
        samples = drive.timed(roundtrip, count)[0]
        cpu = time.process_time() - started
    app.close()
    with closing(sqlite3.connect(path)) as raw:
        [(journal,)] = raw.execute("SELECT coalesce(sum(length(result)), 0) FROM operations")
        [(history,)] = raw.execute("SELECT coalesce(sum(length(details)), 0) FROM history")
    executions = count + 3  # with the warm-up
    return {"median_ms": round(Summary.of_seconds(samples).median, 3),
            "cpu_ms": round(cpu / count * 1e3, 3),
            "journal_kib": round(journal / executions / 1024, 1),
            "history_kib": round(history / executions / 1024, 1)}


def measure(rounds: int, per_round: int) -> dict[str, Any]:
    """Both sizes in turns, each on a file of its own, and the large/small ratios."""
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as scratch:
        for turn in range(rounds):
            for name, size in SIZES.items():
                done = _run(Path(scratch) / f"{name}-{turn}.db", size, per_round)
                for key, value in done.items():
                    figures.setdefault(name, {}).setdefault(key, []).append(value)
    summary = {name: {key: sorted(values)[len(values) // 2] for key, values in kept.items()}
               for name, kept in figures.items()}
    summary["large/small"] = {
        key: round(summary["large"][key] / summary["small"][key], 2)
        for key in ("median_ms", "cpu_ms")}
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--label", default="", help="a name for this run, e.g. before/after")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--tiny", action="store_true", help="a smoke test (figures mean nothing)")
    args = parser.parse_args(argv)
    rounds, per_round = (1, 2) if args.tiny else (5, 20)
    record = {"label": args.label, "commit": report.commit(),
              "load_before": report.load(), **measure(rounds, per_round),
              "load_after": report.load()}
    report.append_line(args.out, "payloads.jsonl", record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

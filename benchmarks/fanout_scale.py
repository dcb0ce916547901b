"""Fan-out benchmarks on SQLite with an embedded worker.

    python benchmarks/fanout_scale.py [--items 10000] [--concurrency 100] [--w2-runs 200]

fanout: one execution maps over N trivial items (max_concurrency=100); reported twice, with items
        that return at once and with items that run one recorded step each. Target: <= 3 s.
w2:     validate -> split into 10 chunks -> map with one encode step per chunk -> assemble;
        median start-to-result latency of one execution at a time. Target: <= 8 ms.

Each fan-out runs --repeat times (best and median reported). The machine's cost of one durable
SQLite commit is measured too: W2 needs 5 commits (the start, one before each of split, the map's
steps and assemble, and the final one), the same as four steps in a row, so its floor is about
five commits. Prints a summary and writes it to benchmarks/results/fanout.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from redwood import App, DurableContext

RESULTS = Path(__file__).parent / "results" / "fanout.json"


def double(x: int) -> int:
    return x * 2


def fanout(items: int, concurrency: int, with_steps: bool) -> dict[str, Any]:
    """Wall time of one execution mapping over ``items`` items, from start to result."""
    with tempfile.TemporaryDirectory() as folder, App(Path(folder) / "fanout.db") as app:

        @app.function
        def fan(ctx: DurableContext, count: int) -> int:
            if with_steps:
                result = ctx.map(range(count), lambda c, x: c.step(double, x),
                                 max_concurrency=concurrency)
            else:
                result = ctx.map(range(count), lambda c, x: x * 2, max_concurrency=concurrency)
            return sum(result.get_results())

        with app.run_worker():
            started = time.perf_counter()
            total = app.start(fan, items, id="fan").result(timeout=600)
            seconds = time.perf_counter() - started
        assert total == items * (items - 1)
        return {"items": items, "max_concurrency": concurrency, "step_per_item": with_steps,
                "seconds": round(seconds, 3), "items_per_second": round(items / seconds)}


def validate(order: dict[str, Any]) -> dict[str, Any]:
    if not order["lines"]:
        raise ValueError("empty order")
    return order


def split(order: dict[str, Any]) -> list[list[str]]:
    lines = order["lines"]
    size = -(-len(lines) // 10)
    return [lines[i:i + size] for i in range(0, len(lines), size)]


def encode(chunk: list[str]) -> str:
    return ",".join(line.upper() for line in chunk)


def assemble(parts: list[str]) -> str:
    return "|".join(parts)


def w2(runs: int) -> dict[str, Any]:
    """Median start-to-result latency of the W2 workflow, one execution at a time."""
    with tempfile.TemporaryDirectory() as folder, App(Path(folder) / "w2.db") as app:

        @app.function
        def workflow(ctx: DurableContext, order: dict[str, Any]) -> str:
            checked = ctx.step(validate, order)
            chunks = ctx.step(split, checked)
            encoded = ctx.map(chunks, lambda c, chunk: c.step(encode, chunk))
            return ctx.step(assemble, encoded.get_results())

        order = {"lines": [f"line-{n}" for n in range(40)]}
        latencies = []
        with app.run_worker():
            for n in range(runs + 10):
                started = time.perf_counter()
                app.start(workflow, order, id=f"w2-{n}").result(timeout=60)
                if n >= 10:  # the first few warm up caches and the thread pool
                    latencies.append(time.perf_counter() - started)
        latencies.sort()
        return {"runs": runs, "median_ms": round(statistics.median(latencies) * 1000, 2),
                "p90_ms": round(latencies[int(len(latencies) * 0.9)] * 1000, 2),
                "min_ms": round(latencies[0] * 1000, 2)}


def commit_ms(commits: int = 200) -> float:
    """The median time of one durable (synchronous=FULL, WAL) SQLite commit on this disk."""
    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(Path(folder) / "probe.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("CREATE TABLE probe (n INTEGER)")
        times = []
        for n in range(commits):
            started = time.perf_counter()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO probe VALUES (?)", (n,))
            connection.execute("COMMIT")
            times.append(time.perf_counter() - started)
        connection.close()
        return round(statistics.median(times) * 1000, 3)


def repeated(runs: int, items: int, concurrency: int, with_steps: bool) -> dict[str, Any]:
    """``fanout`` ``runs`` times: the best and the median."""
    results = [fanout(items, concurrency, with_steps) for _ in range(runs)]
    seconds = sorted(result["seconds"] for result in results)
    return {**results[0], "seconds": seconds[0], "median_seconds": statistics.median(seconds),
            "items_per_second": round(items / seconds[0]), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--w2-runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    summary = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                    "durable_commit_ms": commit_ms()},
        "fanout": repeated(args.repeat, args.items, args.concurrency, with_steps=False),
        "fanout_with_steps": repeated(args.repeat, args.items, args.concurrency, with_steps=True),
        "w2": w2(args.w2_runs),
        "targets": {"fanout_seconds": 3.0, "w2_median_ms": 8.0},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

"""Dashboard server time with a large store: 100,000 executions and one of 1,000 operations.

    .venv/bin/python -m benchmarks.dashboard [--executions 100000] [--operations 1000]

Builds the store once (cached under benchmarks/results/, rebuilt when the sizes change), then
times each page and API call in-process (ASGI, no network): wall p50/p95 and CPU p50.
Target: p50 <= 100 ms for the list page and the execution page. Prints a table and writes
benchmarks/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from redwood import App, DurableContext, RetryPolicy
from redwood.server import create_app
from redwood.types import Durability

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MS = 100.0


def build_app(path: Path) -> App:
    """The app with the benchmark's functions (the same code fills and serves the store)."""
    app = App(path, durability=Durability.NONE)
    failed_once: set[str] = set()

    @app.function
    def echo(ctx: DurableContext, value: Any) -> Any:
        return value

    @app.function
    def sleeper(ctx: DurableContext) -> None:
        ctx.wait(86_400 * 30, name="month")

    def work(index: int) -> int:
        if index == 500 and "x" not in failed_once:
            failed_once.add("x")
            raise ConnectionError("transient")  # one retry, so the chart reads the history
        return index

    @app.function
    def big(ctx: DurableContext, count: int) -> int:
        total = 0
        for index in range(count):
            total += ctx.step(work, index, name=f"item_{index}",
                              retry=RetryPolicy(max_attempts=3, initial_delay=0, jitter=0))
        return total

    return app


def fill(path: Path, executions: int, operations: int) -> None:
    """Create the store: 90% finished echoes, 10% waiting on a timer, one big execution."""
    path.unlink(missing_ok=True)
    app = build_app(path)
    worker = app.worker()
    started = time.perf_counter()
    for index in range(executions - 1):
        if index % 10 == 0:
            app.start("sleeper", id=f"sleep-{index:06d}")
        else:
            app.start("echo", {"index": index}, id=f"echo-{index:06d}")
        if index % 2000 == 1999:
            worker.drain()
    app.start("big", operations, id="big")
    while worker.drain():
        pass
    print(f"filled {executions} executions in {time.perf_counter() - started:.1f}s")
    app.close()


def timed(client: TestClient, path: str, repeat: int) -> dict[str, float]:
    """Wall time and CPU time of this process (the server's work plus the in-process client's;
    unlike wall time, it does not grow when other processes load the machine)."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    wall.sort()
    return {"p50_ms": round(statistics.median(wall), 2),
            "p95_ms": round(wall[max(0, int(len(wall) * 0.95) - 1)], 2),
            "max_ms": round(wall[-1], 2), "cpu_p50_ms": round(statistics.median(cpu), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--operations", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"dashboard-{args.executions}-{args.operations}.tmp.db"
    if not path.exists():
        fill(path, args.executions, args.operations)
    app = build_app(path)
    paths = {
        "list page": "/",
        "list page, status filter": "/?status=RUNNING",
        "list page, blocked-on filter, page 2": None,
        "list page, id search": "/?id_contains=99999",
        "execution page (1,000 operations)": "/executions/big",
        "execution page, failed history": "/executions/big?filter=failed",
        "API list": "/api/executions?limit=50",
        "API counts": "/api/counts",
        "API execution (1,000 operations)": "/api/executions/big",
        "API operations (1,000)": "/api/executions/big/operations",
        "API history page": "/api/executions/big/history?limit=200",
    }
    results: dict[str, dict[str, float]] = {}
    with TestClient(create_app(app), base_url="http://127.0.0.1") as client:
        first = client.get("/api/executions?blocked_on=timer&limit=50").json()
        paths["list page, blocked-on filter, page 2"] = \
            f"/?blocked_on=timer&cursor={first['next_cursor']}"
        ops = len(client.get("/api/executions/big/operations").json()["operations"])
        total = client.get("/api/counts").json()["total"]
        for name, target in paths.items():
            assert target is not None
            client.get(target)  # warm up caches and compiled templates
            results[name] = timed(client, target, args.repeat)
    app.close()
    print(f"\n{total} executions in the store, 'big' has {ops} operations\n")
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores\n")
    print(f"{'request':<42} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu p50':>8}")
    for name, numbers in results.items():
        print(f"{name:<42} {numbers['p50_ms']:>8} {numbers['p95_ms']:>8} {numbers['max_ms']:>8} "
              f"{numbers['cpu_p50_ms']:>8}")
    verdict = {name: results[name]["p50_ms"] <= TARGET_MS
               for name in ("list page", "execution page (1,000 operations)")}
    print(f"\ntarget p50 <= {TARGET_MS} ms: " + ", ".join(
        f"{name}: {'met' if ok else 'MISSED'}" for name, ok in verdict.items()))
    report = {"benchmark": "dashboard", "executions": total, "operations_in_big": ops,
              "repeat": args.repeat, "target_p50_ms": TARGET_MS, "target_met": verdict,
              "load_average": round(load, 2), "cores": os.cpu_count(),
              "results": results, "python": platform.python_version(),
              "machine": platform.machine(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                   time.gmtime())}
    out = RESULTS / "dashboard.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""How quiet an idle PostgreSQL worker is, and how fast a notification wakes it.

    python benchmarks/pg_idle.py [--seconds 30] [--samples 20]

1. Queries: a started worker with nothing to do runs for ``--seconds``; we count the store's
   transactions (every read and write it sends: each is one transaction) and, as a check from the
   server's side, pg_stat_database.xact_commit of a database nobody else uses.
2. Wake-up: another store (as another process would) starts an execution; we time until the
   idle worker runs its first step. Only LISTEN/NOTIFY connects the two.
Writes benchmarks/results/pg_idle.json.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from pg_common import committed_transactions, machine, scratch_database, write_result

from redwood import App, DurableContext
from redwood.store.postgres import PostgresStore

# An idle backend reports its statistics up to 10 s late (PGSTAT_IDLE_INTERVAL).
STATS_DELAY = 11.0


def idle_queries(url: str, seconds: float) -> dict[str, float]:
    with App(url) as app:
        store = app.store
        assert isinstance(store, PostgresStore)
        worker = app.worker().start()
        time.sleep(STATS_DELAY)  # start-up traffic settles and reaches the server's statistics
        client_before, server_before = store.transactions, committed_transactions(url)
        time.sleep(seconds)
        client_after = store.transactions
        time.sleep(STATS_DELAY)
        server_after = committed_transactions(url)
        # The store's own transactions during the statistics delay count on the server too.
        server = server_after - server_before - (store.transactions - client_after)
        worker.stop()
    client = client_after - client_before
    return {"seconds": seconds, "store_transactions": client,
            "store_transactions_per_second": round(client / seconds, 3),
            "server_transactions": server,
            "server_transactions_per_second": round(server / seconds, 3),
            "lease_seconds": worker.lease_seconds, "poll_interval": worker.poll_interval}


def wake_latency(url: str, samples: int) -> dict[str, float]:
    ran: dict[str, float] = {}
    done = threading.Event()

    def mark(execution_id: str) -> None:
        ran[execution_id] = time.perf_counter()
        if len(ran) == samples:
            done.set()

    with App(url) as workers_app, App(url) as client_app:
        for app in (workers_app, client_app):
            @app.function(name="wake")
            def wake(ctx: DurableContext) -> None:
                ctx.step(mark, ctx.execution_id)
        started: dict[str, float] = {}
        with workers_app.run_worker():
            time.sleep(1.0)  # the worker is idle: nothing ready, nothing leased
            for i in range(samples):
                execution_id = f"wake-{i}"
                started[execution_id] = time.perf_counter()
                client_app.start("wake", id=execution_id).result(timeout=10)
                time.sleep(0.2)  # idle again before the next sample
            done.wait(10)
    latencies = sorted((ran[k] - started[k]) * 1000 for k in started)
    return {"samples": samples, "median_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
            "max_ms": round(latencies[-1], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with scratch_database("redwood_bench_idle") as url:
        queries = idle_queries(url, args.seconds)
        wake = wake_latency(url, args.samples)
    result = {"benchmark": "pg_idle", "idle_worker": queries, "wake_up": wake,
              "machine": machine()}
    print(f"idle worker: {queries['store_transactions']} transactions in {args.seconds:g} s "
          f"= {queries['store_transactions_per_second']}/s "
          f"(server: {queries['server_transactions_per_second']}/s)")
    print(f"wake-up of an idle worker by a start in another store: median "
          f"{wake['median_ms']} ms, p95 {wake['p95_ms']} ms")
    print(f"written to {write_result('pg_idle', result)}")


if __name__ == "__main__":
    main()

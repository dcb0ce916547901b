"""What each statement of a W1 execution costs the PostgreSQL server, one execution at a time.

    python -m benchmarks.pg_statements [--database URL] [--count 400]

For each kind of statement a back-to-back execution sends (its start, a step's checkpoint, its
ending, a read of it) and, for comparison, the grouped CHECKPOINTS statement carrying the same
single write, a one-row insert, and CHECKPOINTS carrying 30 writes at once: the CPU the serving
backend spent per statement (utime + stime from /proc, so PostgreSQL must run on this host) and
the median round trip seen by the client, each a commit with ``synchronous_commit`` as the
server has it. Runs in a scratch database unless ``--database`` names one. Prints a table and
writes pg_statements.json to ``--out`` (default benchmarks/results).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.pg_common import RESULTS, meta, process_cpu_seconds, scratch_database
from redwood.model import NewEvent, Operation
from redwood.store import pg_sql as sql
from redwood.store import pg_wire as wire
from redwood.store import postgres
from redwood.store.base import JournalWrite, NewExecution, Outcome
from redwood.types import ExecutionStatus, OperationStatus, OperationType

_INSERT = wire.Statement("bench_insert", "INSERT INTO bench_rows (value) VALUES (%s)")


def _step(number: int, now: float) -> JournalWrite:
    op = Operation(id=str(number), parent_id=None, type=OperationType.STEP, subtype=None,
                   name="bump", status=OperationStatus.SUCCEEDED, attempt=1, result=str(number),
                   started_at=now, ended_at=now)
    events = (NewEvent(type="StepStarted", operation_id=op.id, name="bump",
                       details={"attempt": 1, "started_at": now}),
              NewEvent(type="StepSucceeded", operation_id=op.id, name="bump",
                       details={"result": op.result, "attempt": 1}))
    return JournalWrite(execution_id="", lease_token=0, now=now, operations=(op,), events=events)


class _Bench:
    def __init__(self, connection: psycopg.Connection[Any], count: int) -> None:
        self.connection = connection
        self.count = count
        self.pid = connection.info.backend_pid
        self.serial = 0

    def start(self) -> tuple[str, int]:
        self.serial += 1
        new = NewExecution(id=f"bench-{self.serial}", function="ten_steps", input="0",
                           now=time.time(), lease_owner="bench", lease_seconds=3600.0)
        execution, _ = postgres._create_execution(self.connection, new, wire.execute)
        return execution.id, execution.lease_token

    def measure(self, prepare: Callable[[], Any], run: Callable[[Any], object],
                per: int = 1) -> dict[str, float]:
        """CPU of the backend and round trip per statement (per write: ``per`` in each), ``run``
        given what ``prepare`` made (made first for every statement, outside the measurement)."""
        made = [prepare() for _ in range(max(10, self.count // per))]
        for item in made[:5]:  # the named statement is prepared on this connection
            run(item)
        made = made[5:]
        before = process_cpu_seconds([self.pid])[self.pid]
        samples = []
        for item in made:
            began = time.perf_counter()
            run(item)
            samples.append(time.perf_counter() - began)
        spent = process_cpu_seconds([self.pid])[self.pid] - before
        return {"server_cpu_ms": round(spent / len(made) / per * 1e3, 3),
                "round_trip_ms": round(statistics.median(samples) * 1e3, 3)}


def measure(url: str, count: int) -> dict[str, dict[str, float]]:
    """The figures of every statement kind, by name."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY,"
                           " value text)")
        bench = _Bench(connection, count)
        write = _step(5, time.time())

        def one(execution: tuple[str, int], shape: JournalWrite = write) -> JournalWrite:
            return replace(shape, execution_id=execution[0], lease_token=execution[1])

        def alone(w: JournalWrite) -> object:
            return wire.execute(connection, *postgres._alone(w))

        def grouped(ws: list[JournalWrite]) -> object:
            return wire.execute(connection, sql.CHECKPOINTS, postgres._checkpoint_params(ws))

        ending = JournalWrite(execution_id="", lease_token=0, now=write.now,
                              operations=write.operations, events=write.events, alone=True,
                              outcome=Outcome(ExecutionStatus.SUCCEEDED, result="10"))
        figures = {
            "one-row insert": bench.measure(lambda: ("x",),
                                            lambda p: wire.execute(connection, _INSERT, p)),
            "start (leased)": bench.measure(lambda: None, lambda _: bench.start()),
            "read of the execution": bench.measure(
                bench.start, lambda e: wire.execute(connection, sql.GET_EXECUTION, (e[0],))),
            "step checkpoint alone": bench.measure(lambda: one(bench.start()), alone),
            "step checkpoint in CHECKPOINTS": bench.measure(lambda: [one(bench.start())],
                                                            grouped),
            "ending alone": bench.measure(lambda: one(bench.start(), ending), alone),
            "step checkpoint, 30 in CHECKPOINTS (per write)": bench.measure(
                lambda: [one(bench.start()) for _ in range(30)], grouped, per=30),
        }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="an existing database to use (default: a scratch one)")
    parser.add_argument("--count", type=int, default=400, help="statements of each kind")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where pg_statements.json goes")
    args = parser.parse_args(argv)
    with scratch_database("redwood_bench_statements", args.database) as url:
        postgres.PostgresStore(url).close()  # the schema
        figures = measure(url, max(args.count, 10))
    print("| statement | server CPU (ms) | round trip, median (ms) |\n| --- | --- | --- |")
    for name, figure in figures.items():
        print(f"| {name} | {figure['server_cpu_ms']} | {figure['round_trip_ms']} |")
    args.out.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta(f"count {args.count}", sys.argv), "figures": figures}
    (args.out / "pg_statements.json").write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

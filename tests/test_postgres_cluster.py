"""Several worker processes on one PostgreSQL database, crashed and frozen on purpose.

Workers are real processes (tests/cluster_worker.py) with a 1.5 s lease. They are SIGKILLed,
SIGSTOPped past their lease, and the database itself is restarted; every execution must still
finish with the right result, each step result recorded exactly once, and no step body run again
after its result was recorded.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest

from cluster_worker import STEPS, build
from conftest import wait_until
from redwood import App, ExecutionStatus

TESTS = Path(__file__).parent
LEASE = 1.5


class Cluster:
    """Worker processes on one database; each writes its output to its own log file."""

    def __init__(self, url: str, folder: Path, lease: float = LEASE) -> None:
        self.url = url
        self.folder = folder
        self.lease = lease
        self.runs_file = folder / "runs.txt"
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.kills = 0

    def runs(self) -> int:
        """How many step bodies have run so far (in every worker)."""
        return self.runs_file.read_bytes().count(b"\n") if self.runs_file.exists() else 0

    def start(self, count: int = 1) -> list[int]:
        """Start ``count`` workers and wait until each runs; returns their indexes."""
        started = []
        for _ in range(count):
            log = self.folder / f"worker-{len(self.workers)}.log"
            with log.open("wb") as out:
                self.workers.append(subprocess.Popen(
                    [sys.executable, "-m", "cluster_worker", self.url, str(self.runs_file),
                     str(self.lease)],
                    cwd=TESTS, stdout=out, stderr=subprocess.STDOUT))
            self.logs.append(log)
            started.append(len(self.workers) - 1)
        for index in started:
            wait_until(lambda i=index: b"ready" in self.logs[i].read_bytes(), timeout=30,
                       what=f"worker {index} to start")
        return started

    def kill(self, index: int) -> None:
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait(10)
        self.kills += 1

    def live(self) -> list[int]:
        return [i for i, process in enumerate(self.workers) if process.poll() is None]

    def log(self, index: int) -> str:
        return self.logs[index].read_text(errors="replace")

    def close(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(10)


@pytest.fixture
def cluster(postgres_url: str, tmp_path: Path) -> Iterator[Cluster]:
    workers = Cluster(postgres_url, tmp_path)
    yield workers
    workers.close()


@pytest.fixture
def client(cluster: Cluster) -> Iterator[App]:
    """The same app as the workers', to start executions and read results (it runs none)."""
    app = build(cluster.url, str(cluster.folder / "client-runs.txt"), LEASE)
    yield app
    app.close()


def count(url: str, query: str) -> int:
    with psycopg.connect(url) as connection:
        row = connection.execute(query).fetchone()
        return int(row[0]) if row else 0


def finished(url: str) -> int:
    return count(url, "SELECT count(*) FROM executions WHERE status <> 'RUNNING'")


def assert_every_step_recorded_once_and_never_rerun(cluster: Cluster, executions: int) -> None:
    with psycopg.connect(cluster.url) as connection:
        recorded = {
            (execution_id, int(operation_id)): (count, first)
            for execution_id, operation_id, count, first in connection.execute(
                "SELECT execution_id, operation_id, count(*), min(timestamp) FROM history "
                "WHERE type = 'StepSucceeded' GROUP BY execution_id, operation_id")
        }
    assert len(recorded) == executions * STEPS
    twice = {key: n for key, (n, _) in recorded.items() if n != 1}
    assert twice == {}, f"step results recorded more than once: {twice}"
    runs: Counter[tuple[str, int]] = Counter()
    late = []
    for line in cluster.runs_file.read_text().splitlines():
        execution_id, index, started, _pid = line.split()
        key = (execution_id, int(index) + 1)  # step i is operation i + 1
        runs[key] += 1
        # The result is written after the body returned, so any body that started after the
        # recorded result's timestamp ran again although its result was already recorded.
        if float(started) > recorded[key][1]:
            late.append((key, started, recorded[key][1]))
    assert late == [], f"step bodies ran after their result was recorded: {late[:5]}"
    assert set(runs) == set(recorded)


def test_killed_workers_lose_nothing_and_repeat_no_recorded_step(
    cluster: Cluster, client: App
) -> None:
    executions = 500
    handles = [client.start("twenty_steps", n, id=f"job-{n}") for n in range(executions)]
    cluster.start(4)
    chaos = random.Random(4)
    # Kill a random worker (and start a new one) every ~1/12 of the work, about once a second.
    for tick in range(1, 12):
        wait_until(lambda t=tick: cluster.runs() >= executions * STEPS * t / 12, timeout=60,
                   what=f"progress {tick}/12")
        cluster.kill(chaos.choice(cluster.live()))
        cluster.start()
    wait_until(lambda: finished(cluster.url) == executions, timeout=60,
               what="every execution to finish")
    for n, handle in enumerate(handles):
        assert handle.result(timeout=5) == n + sum(2 * i for i in range(STEPS))
    assert cluster.kills == 11
    assert_every_step_recorded_once_and_never_rerun(cluster, executions)


def test_frozen_worker_past_its_lease_cannot_write_when_it_wakes(
    cluster: Cluster, client: App
) -> None:
    [frozen] = cluster.start(1)
    handle = client.start("slow_steps", id="frozen-1")
    wait_until(lambda: cluster.runs_file.exists() and "frozen-1 0" in
               cluster.runs_file.read_text(), what="the first step body to start")
    cluster.workers[frozen].send_signal(signal.SIGSTOP)
    [rescuer] = cluster.start(1)
    # The rescuer claims once the frozen worker's lease lapses, and finishes the execution.
    result = handle.result(timeout=30)
    rescuer_pid = cluster.workers[rescuer].pid
    assert result == [rescuer_pid, rescuer_pid]
    history = client.client.history("frozen-1")
    cluster.workers[frozen].send_signal(signal.SIGCONT)
    wait_until(lambda: "write refused under lease token 1" in cluster.log(frozen), timeout=30,
               what="the frozen worker's late write to be refused")
    assert client.client.history("frozen-1") == history
    assert handle.result(timeout=5) == [rescuer_pid, rescuer_pid]
    succeeded = [e for e in history if e.type == "StepSucceeded"]
    assert [e.details["result"] for e in succeeded] == [str(rescuer_pid)] * 2


@pytest.mark.postgres_restart
def test_workers_reconnect_after_a_database_restart(cluster: Cluster, client: App) -> None:
    """Restarts the shared PostgreSQL server (marked: deselect with -m 'not postgres_restart')."""
    executions = 100
    handles = [client.start("twenty_steps", n, id=f"restart-{n}") for n in range(executions)]
    cluster.start(4)
    wait_until(lambda: cluster.runs() >= executions * STEPS / 3, timeout=60,
               what="a third of the work")
    version = os.listdir("/etc/postgresql")[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, timeout=60)
    wait_until(lambda: finished(cluster.url) == executions, timeout=60,
               what="every execution to finish after the restart")
    for n, handle in enumerate(handles):
        assert handle.result(timeout=10) == n + sum(2 * i for i in range(STEPS))
    assert_every_step_recorded_once_and_never_rerun(cluster, executions)
    assert len(cluster.live()) == 4


def test_a_thousand_timers_each_wake_their_execution_once(cluster: Cluster, client: App) -> None:
    executions = 1000
    handles = [client.start("timer", n, id=f"timer-{n}") for n in range(executions)]
    cluster.start(4)
    wait_until(lambda: finished(cluster.url) == executions, timeout=60,
               what="every timer to fire")
    for n, handle in enumerate(handles):
        assert handle.result(timeout=5) == n
    with closing(psycopg.connect(cluster.url)) as connection:
        woke = Counter(dict(connection.execute(
            "SELECT execution_id, count(*) FROM history WHERE type = 'WaitSucceeded' "
            "GROUP BY execution_id").fetchall()))
    assert len(woke) == executions and set(woke.values()) == {1}
    statuses = {e.status for e in client.client.list(limit=executions)}
    assert statuses == {ExecutionStatus.SUCCEEDED}

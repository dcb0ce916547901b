"""Crash tests: a real worker process is SIGKILLed at a commit or inside a step body; a fresh
worker then finishes the execution. Nothing recorded is lost, and no recorded step runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from crash_worker import register
from redwood import App, ExecutionStatus, ManualClock, OperationStatus, StepInterrupted

WORKER = Path(__file__).with_name("crash_worker.py")
EXPECTED = ["reserved order-1", "charged for reserved order-1",
            "shipped after charged for reserved order-1"]


@pytest.fixture
def side_file(tmp_path: Path) -> Path:
    return tmp_path / "bodies.log"


@pytest.fixture
def starter(db_path: Path) -> Iterator[App]:
    """The client that starts executions (real clock, like the worker processes)."""
    with App(db_path) as app:
        register(app, Path(os.devnull))
        yield app


def _worker_process(db_path: Path, side_file: Path, mode: str = "drain",
                    kill_in: str | None = None, fault: str | None = None) -> int:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("REDWOOD_FAULT", None)
    if fault is not None:
        env["REDWOOD_FAULT"] = fault
    argv = [sys.executable, str(WORKER), str(db_path), str(side_file), mode]
    if kill_in is not None:
        argv.append(kill_in)
    return subprocess.run(argv, env=env, timeout=60, check=False).returncode


def _bodies(side_file: Path, order: str = "order-1") -> Counter[str]:
    """How often each step body of ``order`` ran, from the lines the bodies appended."""
    lines = side_file.read_text().splitlines() if side_file.exists() else []
    return Counter(step for who, step in (line.split() for line in lines) if who == order)


def _recover(db_path: Path, side_file: Path, advance: float = 0.0) -> App:
    """A fresh worker in this process, with a clock past every lease the dead worker held."""
    clock = ManualClock(start=time.time() + 3600)
    app = App(db_path, clock=clock)
    register(app, side_file)
    worker = app.worker()
    worker.drain()
    if advance:
        clock.advance(advance)
        worker.drain()
    return app


def _recorded(app: App, execution_id: str) -> dict[str, str | None]:
    return {op.name or "": op.result for op in app.client.operations(execution_id)
            if op.status is OperationStatus.SUCCEEDED}


@pytest.mark.parametrize("point", ["commit.before", "commit.after"])
@pytest.mark.parametrize("nth", [2, 3, 4])
def test_killed_at_a_commit_then_finished_by_a_fresh_worker(
    starter: App, db_path: Path, side_file: Path, point: str, nth: int
) -> None:
    # Commits of the worker process: 1 claims, 2 records "reserve" (flushed before "charge"),
    # 3 records "charge", 4 records "ship" with the execution's end.
    starter.start("pipeline", "order-1", id="order-1")
    assert _worker_process(db_path, side_file, fault=f"{point}:{nth}") == -signal.SIGKILL
    ran_before = _bodies(side_file)
    recorded_before = _recorded(starter, "order-1")
    committed = nth - 1 if point == "commit.before" else nth
    assert len(recorded_before) == committed - 1  # the claim recorded no step

    recovery = _recover(db_path, side_file)
    assert recovery.client.result("order-1", timeout=5) == EXPECTED
    recorded_after = _recorded(recovery, "order-1")
    assert {k: recorded_after[k] for k in recorded_before} == recorded_before
    for step in ("reserve", "charge", "ship"):
        again = 0 if step in recorded_before else 1
        assert _bodies(side_file)[step] == ran_before[step] + again, step
    recovery.close()


def test_killed_inside_a_step_body_reruns_only_that_step(
    starter: App, db_path: Path, side_file: Path
) -> None:
    starter.start("pipeline", "order-1", id="order-1")
    assert _worker_process(db_path, side_file, kill_in="charge") == -signal.SIGKILL
    assert _bodies(side_file) == {"reserve": 1, "charge": 1}
    assert _recorded(starter, "order-1") == {"reserve": '"reserved order-1"'}

    recovery = _recover(db_path, side_file)
    assert recovery.client.result("order-1", timeout=5) == EXPECTED
    # At least once: the interrupted attempt of "charge" runs again; "reserve" never does.
    assert _bodies(side_file) == {"reserve": 1, "charge": 2, "ship": 1}
    recovery.close()


def test_at_most_once_step_interrupted_without_retries_fails_without_running_again(
    starter: App, db_path: Path, side_file: Path
) -> None:
    starter.start("pipeline_at_most_once", "order-1", id="order-1")
    assert _worker_process(db_path, side_file, kill_in="charge") == -signal.SIGKILL
    charge = starter.client.operations("order-1")[1]
    assert (charge.name, charge.status, charge.attempt) == ("charge", OperationStatus.STARTED, 1)

    recovery = _recover(db_path, side_file)
    execution = recovery.client.get("order-1")
    assert execution.status is ExecutionStatus.FAILED
    assert _bodies(side_file) == {"reserve": 1, "charge": 1}
    charge = recovery.client.operations("order-1")[1]
    assert charge.status is OperationStatus.FAILED
    assert charge.error is not None
    assert charge.error.type == f"{StepInterrupted.__module__}.StepInterrupted"
    assert "at-most-once semantics forbid running that attempt again" in charge.error.message
    assert execution.error is not None and "StepInterrupted" in execution.error.message
    assert _recorded(recovery, "order-1") == {"reserve": '"reserved order-1"'}
    recovery.close()


def test_at_most_once_step_interrupted_goes_to_its_retry_policy(
    starter: App, db_path: Path, side_file: Path
) -> None:
    starter.start("pipeline_at_most_once_retried", "order-1", id="order-1")
    assert _worker_process(db_path, side_file, kill_in="charge") == -signal.SIGKILL

    recovery = _recover(db_path, side_file, advance=1.0)
    assert recovery.client.result("order-1", timeout=5) == EXPECTED
    assert _bodies(side_file) == {"reserve": 1, "charge": 2, "ship": 1}
    charge = recovery.client.operations("order-1")[1]
    assert (charge.status, charge.attempt) == (OperationStatus.SUCCEEDED, 2)
    (interrupted,) = [e for e in recovery.client.history("order-1") if e.type == "StepFailed"]
    assert interrupted.details["error"]["type"].endswith("StepInterrupted")
    assert interrupted.details["retry"]["delay"] == 1.0
    recovery.close()


def test_a_fresh_worker_process_takes_over_after_the_lease_expires(
    starter: App, db_path: Path, side_file: Path
) -> None:
    starter.start("pipeline", "order-1", id="order-1")
    assert _worker_process(db_path, side_file, kill_in="ship") == -signal.SIGKILL
    assert starter.client.get("order-1").lease_owner is not None  # the dead worker's lease
    assert _worker_process(db_path, side_file, mode="serve") == 0
    assert starter.client.result("order-1", timeout=5) == EXPECTED
    assert _bodies(side_file) == {"reserve": 1, "charge": 1, "ship": 2}


def _expected(order: str) -> list[str]:
    return [f"reserved {order}", f"charged for reserved {order}",
            f"shipped after charged for reserved {order}"]


@pytest.mark.parametrize("nth", [3, 4])
def test_killed_during_a_group_commit_of_many_executions_loses_none_of_them(
    starter: App, db_path: Path, side_file: Path, nth: int
) -> None:
    orders = [f"order-{i}" for i in range(8)]
    for order in orders:
        starter.start("pipeline", order, id=order)
    # A background worker commits the checkpoints of concurrent executions together; it dies
    # before one of those commits, with several executions' checkpoints in the batch.
    assert _worker_process(db_path, side_file, mode="serve",
                           fault=f"commit.before:{nth}") == -signal.SIGKILL
    ran_before = {order: _bodies(side_file, order) for order in orders}
    recorded_before = {order: _recorded(starter, order) for order in orders}
    assert sum(map(len, recorded_before.values())) < 3 * len(orders)  # it died mid-way

    recovery = _recover(db_path, side_file)
    for order in orders:
        assert recovery.client.result(order, timeout=5) == _expected(order)
        recorded_after = _recorded(recovery, order)
        assert {k: recorded_after[k] for k in recorded_before[order]} == recorded_before[order]
        for step in ("reserve", "charge", "ship"):
            again = 0 if step in recorded_before[order] else 1
            assert _bodies(side_file, order)[step] == ran_before[order][step] + again, (order, step)
    recovery.close()

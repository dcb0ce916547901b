"""The demo's two scenarios, as functions that return what happened (the demo prints it, the
tests check it): an order processed by an embedded worker, and an order whose worker process is
killed with SIGKILL halfway through and finished by a new one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from examples.orders import (
    EFFECT_LOG_VARIABLE,
    Effect,
    Item,
    Order,
    Receipt,
    create_app,
    read_effects,
)
from redwood import App, ExecutionHandle, HistoryEvent, Operation, OperationStatus

REPOSITORY = Path(__file__).resolve().parent.parent
APP_SPEC = "examples.orders:create_app"
# A short lease, so that if a worker dies while holding one, another takes over within seconds.
LEASE_SECONDS = 2

# Both ids are chosen for their story: the seeded gateway declines order-1001 twice and
# order-1006 twice before letting them through.
FIRST_ORDER = Order(order_id="order-1001", customer="ada@example.com", items=[
    Item(sku="KBD-42", quantity=1, unit_price_cents=8900),
    Item(sku="USB-C", quantity=2, unit_price_cents=1250),
])
SECOND_ORDER = Order(order_id="order-1006", customer="grace@example.com", items=[
    Item(sku="MON-27", quantity=1, unit_price_cents=32900),
])


@dataclass(frozen=True, slots=True)
class Run:
    """One order processed to the end: its receipt, journal, history and effect log."""

    order: Order
    receipt: Receipt
    operations: list[Operation]
    history: list[HistoryEvent]
    effects: list[Effect]
    created_at: float
    ended_at: float
    invocations: int

    def operation(self, name: str) -> Operation:
        """The journal entry named ``name``."""
        return next(op for op in self.operations if op.name == name)

    def runs(self, step: str, pid: int | None = None) -> list[Effect]:
        """The recorded body runs of ``step`` (in process ``pid``, when given)."""
        return [e for e in self.effects if e.step == step and (pid is None or e.pid == pid)]


@dataclass(frozen=True, slots=True)
class Recovery:
    """An order whose worker process was killed mid-way and which a new worker finished."""

    run: Run
    killed_pid: int
    restarted_pid: int
    killed_at: float
    restarted_at: float
    journal_at_kill: list[Operation]
    restarted_exit_code: int
    banner: str

    def completed_at_kill(self) -> list[str]:
        """The steps whose result the journal held when the worker was killed."""
        return [op.name or "" for op in self.journal_at_kill
                if op.status is OperationStatus.SUCCEEDED]


# --- scenario 1: an embedded worker --------------------------------------------------------------


def run_embedded(workdir: Path, order: Order = FIRST_ORDER) -> Run:
    """Process ``order`` with a worker inside this process, on a fresh SQLite file."""
    database, log = workdir / "orders.db", workdir / "effects.jsonl"
    with _effect_log(log), create_app(database) as app:
        with app.run_worker():
            handle: ExecutionHandle[Receipt] = app.start("process_order", order,
                                                         id=order.order_id)
            receipt = handle.result(timeout=60)
        return _collect(app, order, receipt, log)


# --- scenario 2: a worker process, killed and restarted -----------------------------------------


def run_crash_recovery(workdir: Path, order: Order = SECOND_ORDER) -> Recovery:
    """Process ``order`` with ``redwood worker`` in another process; SIGKILL it once the order
    has reserved its stock and waits for its next payment attempt; start a new worker process
    and let it finish the order."""
    database, log = workdir / "orders.db", workdir / "effects.jsonl"
    with create_app(database) as app:
        first = _spawn_worker(database, log, workdir / "worker-1.out")
        try:
            handle: ExecutionHandle[Receipt] = app.start("process_order", order,
                                                         id=order.order_id)
            _wait_for(lambda: _idle_after_reserve(app, order.order_id), 30,
                      "the order to reserve its stock and wait for its next attempt")
            first.send_signal(signal.SIGKILL)
            killed_at = time.time()
            first.wait(timeout=10)
        finally:
            _stop(first)
        journal_at_kill = app.store.operations(order.order_id)
        restarted_at = time.time()
        second = _spawn_worker(database, log, workdir / "worker-2.out")
        try:
            receipt = handle.result(timeout=60)
            second.send_signal(signal.SIGTERM)
            exit_code = second.wait(timeout=30)
        finally:
            _stop(second)
        banner = (workdir / "worker-2.out").read_text().splitlines()[0]
        return Recovery(
            run=_collect(app, order, receipt, log), killed_pid=first.pid,
            restarted_pid=second.pid, killed_at=killed_at, restarted_at=restarted_at,
            journal_at_kill=journal_at_kill, restarted_exit_code=exit_code, banner=banner,
        )


def worker_command(database: Path) -> list[str]:
    """``redwood worker`` for the order app (run as ``python -m redwood.cli`` so the demo does
    not depend on the console script being on PATH)."""
    return [sys.executable, "-m", "redwood.cli", "worker", APP_SPEC, "-d", str(database),
            "--lease", str(LEASE_SECONDS)]


def _spawn_worker(database: Path, log: Path, output: Path) -> subprocess.Popen[bytes]:
    python_path = os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, EFFECT_LOG_VARIABLE: str(log), "PYTHONPATH": python_path,
           "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    with open(output, "wb") as out:
        return subprocess.Popen(worker_command(database), env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=REPOSITORY)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _idle_after_reserve(app: App, execution_id: str) -> bool:
    """True once "reserve" is in the journal and no worker holds the execution, with its next
    invocation far enough away that a kill cannot land in the middle of one."""
    execution = app.client.get(execution_id)
    reserved = any(op.name == "reserve" and op.status is OperationStatus.SUCCEEDED
                   for op in app.store.operations(execution_id))
    return reserved and execution.lease_owner is None and execution.ready_at is not None \
        and execution.ready_at - time.time() > 0.3


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"The demo waited {timeout}s for {what}; it never happened.")
        time.sleep(0.01)


# --- shared --------------------------------------------------------------------------------------


@contextmanager
def _effect_log(path: Path) -> Iterator[None]:
    previous = os.environ.get(EFFECT_LOG_VARIABLE)
    os.environ[EFFECT_LOG_VARIABLE] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(EFFECT_LOG_VARIABLE, None)
        else:
            os.environ[EFFECT_LOG_VARIABLE] = previous


def _collect(app: App, order: Order, receipt: Receipt, log: Path) -> Run:
    execution = app.client.get(order.order_id)
    return Run(
        order=order, receipt=receipt, operations=app.store.operations(order.order_id),
        history=app.store.history(order.order_id, limit=10_000),
        effects=read_effects(log, order.order_id),
        created_at=execution.created_at, ended_at=execution.ended_at or time.time(),
        invocations=execution.invocations,
    )

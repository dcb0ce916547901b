"""The demo's two scenarios, run for real: what they report must be what happened."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

from examples import report
from examples.demo import run_crash_recovery, run_embedded
from examples.orders import Receipt
from examples.scenarios import Run
from rich.console import Console

from redwood import OperationStatus, OperationType

STEPS = ("validate", "reserve", "charge", "confirm")


def _printed(print_report: Callable[..., None], *args: object) -> str:
    out = io.StringIO()
    print_report(Console(file=out, width=200), *args)
    return out.getvalue()


def _assert_each_body_ran_once_per_attempt(run: Run) -> None:
    for step in STEPS:
        op = run.operation(step)
        assert op.status is OperationStatus.SUCCEEDED
        assert [effect.attempt for effect in run.runs(step)] == list(range(1, op.attempt + 1))


def test_embedded_scenario_retries_the_declined_charge_and_waits(tmp_path: Path) -> None:
    run = run_embedded(tmp_path)

    assert run.receipt == Receipt(
        order_id="order-1001", reservation_id="rsv-order-1001", charge_id="ch-order-1001-3",
        amount_cents=11400, confirmation_id="msg-order-1001",
    )
    _assert_each_body_ran_once_per_attempt(run)
    assert [op.attempt for op in run.operations if op.type is OperationType.STEP] == [1, 1, 3, 1]
    assert [effect.ok for effect in run.runs("charge")] == [False, False, True]
    retries = [e.details["retry"]["delay"] for e in run.history if e.type == "StepFailed"]
    assert retries == [1.0, 1.0]
    wait = next(e for e in run.history if e.type == "WaitStarted")
    assert (wait.name, wait.details["duration"]) == ("cooling-off", 2)
    assert run.operation("cooling-off").status is OperationStatus.SUCCEEDED
    assert {effect.pid for effect in run.effects} == {os.getpid()}

    printed = _printed(report.embedded, run)
    assert "charge   attempt 2  ✗ declined → retry in 1.00 s" in printed
    assert "charge   attempt 3  ✓ charged 11400 as ch-order-1001-3" in printed
    assert "SUCCEEDED after 4 invocations" in printed


def test_crash_scenario_never_reruns_a_completed_step_after_the_kill(tmp_path: Path) -> None:
    recovery = run_crash_recovery(tmp_path)
    run = recovery.run
    killed, restarted = recovery.killed_pid, recovery.restarted_pid

    assert run.receipt == Receipt(
        order_id="order-1006", reservation_id="rsv-order-1006", charge_id="ch-order-1006-3",
        amount_cents=32900, confirmation_id="msg-order-1006",
    )
    assert killed != restarted and os.getpid() not in (killed, restarted)
    # The worker was killed after "reserve" was recorded and before the order finished.
    completed = recovery.completed_at_kill()
    assert {"validate", "reserve"} <= set(completed)
    assert "confirm" not in completed
    # Nothing completed before the kill ran again in the new process.
    for step in completed:
        assert run.runs(step, restarted) == []
        assert len(run.runs(step)) == 1
    _assert_each_body_ran_once_per_attempt(run)
    assert {effect.pid for effect in run.effects} == {killed, restarted}
    assert [effect.pid for effect in run.runs("confirm")] == [restarted]
    assert run.runs("charge", restarted), "the retries must continue in the new process"
    assert recovery.restarted_exit_code == 0
    assert "functions process_order" in recovery.banner

    printed = _printed(report.recovery, recovery)
    assert f"kill -9 worker 1 (pid {killed}); journal: validate ✓, reserve ✓" in printed
    assert "replayed from the journal, not run again" in printed
    assert "RAN AGAIN" not in printed
    assert "✗" not in printed.split("Replayed versus run again")[1].split("Receipt")[0]

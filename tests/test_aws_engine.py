"""Engine additions made for foreign SDKs, tested on the engine itself: callback ids assigned by
the engine, runners, and crashed invocations that ask to run again later."""

from __future__ import annotations

from typing import Any

from redwood import App, ErrorRecord, ExecutionStatus, ManualClock, OperationStatus
from redwood.engine import transitions
from redwood.engine.invocation import Invocation
from redwood.model import Execution, OperationUpdate
from redwood.sdk.run import Ending, InvocationOutcome
from redwood.types import OperationAction, OperationType


def callback_start(details: dict[str, Any] | None) -> OperationUpdate:
    return OperationUpdate(id="cb", parent_id=None, type=OperationType.CALLBACK,
                           action=OperationAction.START, subtype="Callback", details=details)


def test_callback_start_without_an_id_gets_one_from_the_engine() -> None:
    op, [event] = transitions.apply(None, callback_start({"timeout": 60}), 100.0)
    callback_id = op.details["callback_id"]
    assert len(callback_id) == 48 and callback_id.isalnum()
    assert (op.status, op.due_at, event.details["callback_id"]) == (
        OperationStatus.STARTED, 160.0, callback_id)
    other, _ = transitions.apply(None, callback_start(None), 100.0)
    assert other.details["callback_id"] != callback_id


def test_callback_start_with_an_id_keeps_it() -> None:
    op, _ = transitions.apply(None, callback_start({"callback_id": "given"}), 100.0)
    assert op.details["callback_id"] == "given"


def test_a_runner_carries_out_invocations_and_a_crash_runs_again_after_its_delay(
    app: App, clock: ManualClock
) -> None:
    outcomes = [
        InvocationOutcome(Ending.SUSPENDED, error=ErrorRecord("Boom", "lost the runtime"),
                          retry_after=30),
        InvocationOutcome(Ending.SUCCEEDED, result='"fine"'),
    ]
    seen: list[int] = []

    def runner(invocation: Invocation, execution: Execution) -> InvocationOutcome:
        seen.append(execution.invocations)
        return outcomes[len(seen) - 1]

    app.registry.add(lambda event, context: None, "foreign", None, runner=runner)
    handle = app.start("foreign", None, id="foreign-1")
    app.worker().drain()
    assert handle.status() is ExecutionStatus.RUNNING
    clock.advance(29)
    assert app.worker().drain() == 0
    clock.advance(1)
    app.worker().drain()
    assert handle.result(timeout=5) == "fine" and seen == [1, 2]
    completed = [e for e in handle.history() if e.type == "InvocationCompleted"]
    assert completed[0].details["error"]["message"] == "lost the runtime"
    assert "error" not in completed[1].details

"""What every store writes when an invoked (child) execution ends, so SQL stores agree on it:
the parent's CHAINED_INVOKE operation takes the child's outcome, with its history event."""

from __future__ import annotations

from dataclasses import dataclass

from redwood.model import ErrorRecord, NewEvent
from redwood.types import ExecutionStatus, OperationStatus

_VERB = {
    ExecutionStatus.SUCCEEDED: "Succeeded",
    ExecutionStatus.FAILED: "Failed",
    ExecutionStatus.TIMED_OUT: "TimedOut",
    ExecutionStatus.STOPPED: "Stopped",
}


@dataclass(frozen=True, slots=True)
class InvokeOutcome:
    """The parent's CHAINED_INVOKE operation after its child execution ended."""

    status: OperationStatus
    result: str | None
    error: ErrorRecord | None
    event: NewEvent


def invoke_outcome(
    child_id: str, status: ExecutionStatus, result: str | None, error: ErrorRecord | None,
    operation_id: str, parent_id: str | None, name: str | None,
) -> InvokeOutcome:
    """How child execution ``child_id`` ending ``status`` completes operation ``operation_id``."""
    if status is not ExecutionStatus.SUCCEEDED and error is None:
        error = ErrorRecord(type="redwood.Stopped",
                            message=f'child execution "{child_id}" was stopped')
    details: dict[str, object] = {"child_execution_id": child_id}
    if status is ExecutionStatus.SUCCEEDED:
        details["result"] = result
    elif error is not None:
        details["error"] = error.to_json()
    event = NewEvent(type=f"ChainedInvoke{_VERB[status]}", operation_id=operation_id,
                     parent_id=parent_id, name=name, details=details)
    return InvokeOutcome(OperationStatus(status.value), result, error, event)

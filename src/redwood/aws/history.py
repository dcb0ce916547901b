"""An execution's history in the AWS shape (GetDurableExecutionHistory events).

Redwood's history already uses the AWS event vocabulary; this renders each event with its
AWS details structure (retry details, callback ids and timeouts, results and errors, one
InvocationCompleted per invocation) and numbers the events 1..n. Events AWS does not know
(Redwood's own, e.g. StepCancelled when an execution ends) are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redwood.app import App
from redwood.aws import arn, convert
from redwood.model import ErrorRecord, Execution, HistoryEvent
from redwood.sdk.invoke import child_execution_id

AWS_EVENT_TYPES = frozenset({
    "ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut",
    "ExecutionStopped", "ContextStarted", "ContextSucceeded", "ContextFailed", "WaitStarted",
    "WaitSucceeded", "WaitCancelled", "StepStarted", "StepSucceeded", "StepFailed",
    "ChainedInvokeStarted", "ChainedInvokeSucceeded", "ChainedInvokeFailed",
    "ChainedInvokeTimedOut", "ChainedInvokeStopped", "CallbackStarted", "CallbackSucceeded",
    "CallbackFailed", "CallbackTimedOut", "InvocationCompleted",
})
_PAGE = 1000

Details = Callable[[HistoryEvent, "_Render"], dict[str, Any]]


class _Render:
    """What rendering one event needs from the ones before it and from the execution."""

    def __init__(self, app: App, execution: Execution, include_data: bool) -> None:
        self.app = app
        self.execution = execution
        self.include_data = include_data
        self.wait_durations: dict[str, Any] = {}

    def payload(self, text: str | None) -> dict[str, Any]:
        return {"Payload": text, "Truncated": False} if self.include_data else {"Truncated": False}

    def error(self, stored: dict[str, Any] | None) -> dict[str, Any]:
        if stored is None:
            return self.payload(None)
        error = convert.to_error_object(ErrorRecord.from_json(stored)).to_dict()
        return {"Payload": error, "Truncated": False} if self.include_data else \
            {"Truncated": False}


def events(
    app: App, execution_id: str, *, include_data: bool = True
) -> list[dict[str, Any]]:
    """The execution's history as AWS events, oldest first, with EventId 1..n."""
    execution = app.engine.get(execution_id)
    render = _Render(app, execution, include_data)
    rendered: list[dict[str, Any]] = []
    after = 0
    while True:
        page = app.store.history(execution_id, after, _PAGE)
        for event in page:
            if event.type in AWS_EVENT_TYPES:
                rendered.append(_event(event, len(rendered) + 1, render))
        if len(page) < _PAGE:
            return rendered
        after = page[-1].id


def _event(event: HistoryEvent, event_id: int, render: _Render) -> dict[str, Any]:
    shaped: dict[str, Any] = {"EventType": event.type, "EventId": event_id,
                              "EventTimestamp": event.timestamp}
    if event.subtype:
        shaped["SubType"] = event.subtype
    if event.operation_id:
        shaped["Id"] = event.operation_id
    elif event.type.startswith("Execution"):
        shaped["Id"] = arn.execution_key(render.execution.id)
    if event.name and not event.type.startswith("Execution"):
        shaped["Name"] = event.name
    elif event.type.startswith("Execution"):
        shaped["Name"] = render.execution.id
    if event.parent_id:
        shaped["ParentId"] = event.parent_id
    shaped[f"{event.type}Details"] = _DETAILS.get(event.type, _empty)(event, render)
    return shaped


def _empty(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    return {}


def _result(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    return {"Result": render.payload(event.details.get("result"))}


def _error(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    return {"Error": render.error(event.details.get("error"))}


def _execution_started(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    timeout_at = event.details.get("timeout_at")
    timeout = 0 if timeout_at is None else round(timeout_at - event.timestamp)
    return {"Input": render.payload(event.details.get("input")), "ExecutionTimeout": timeout}


def _execution_stopped(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    stored = event.details.get("error")
    if stored is None:
        reason = event.details.get("reason", "stopped")
        stored = ErrorRecord(type="ExecutionStopped", message=str(reason)).to_json()
    return {"Error": render.error(stored)}


def _step_finished(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    retry: dict[str, Any] = {"CurrentAttempt": event.details.get("attempt", 1)}
    if "retry" in event.details:
        retry["NextAttemptDelaySeconds"] = round(event.details["retry"].get("delay") or 0)
    shaped = {"RetryDetails": retry}
    if event.type == "StepSucceeded":
        shaped["Result"] = render.payload(event.details.get("result"))
    else:
        shaped["Error"] = render.error(event.details.get("error"))
    return shaped


def _wait_started(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    duration = round(event.details.get("duration") or 0)
    render.wait_durations[event.operation_id or ""] = duration
    return {"Duration": duration, "ScheduledEndTimestamp": event.details.get("scheduled_end")}


def _wait_succeeded(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    duration = render.wait_durations.get(event.operation_id or "")
    return {} if duration is None else {"Duration": duration}


def _callback_started(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    shaped: dict[str, Any] = {"CallbackId": event.details.get("callback_id")}
    timeout_at = event.details.get("timeout_at")
    if timeout_at is not None:
        shaped["Timeout"] = round(timeout_at - event.timestamp)
    if event.details.get("heartbeat_timeout") is not None:
        shaped["HeartbeatTimeout"] = round(event.details["heartbeat_timeout"])
    return shaped


def _callback_timed_out(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    reason = event.details.get("reason", "timeout")
    timed_out = convert.CALLBACK_TIMEOUT.get(reason, convert.CALLBACK_TIMEOUT["timeout"])
    error = ErrorRecord(type=timed_out.type or "", message=timed_out.message or "")
    return {"Error": render.error(error.to_json())}


def _invoke_started(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    child_id = event.details.get("child_execution_id") or child_execution_id(
        render.execution.id, event.operation_id or "")
    function = event.details.get("function_name") or event.details.get("function", "")
    shaped: dict[str, Any] = {"FunctionName": function,
                              "DurableExecutionArn": arn.execution_arn(
                                  child_id, event.details.get("function") or function)}
    child = render.app.store.get_execution(child_id)
    if child is not None:
        shaped["Input"] = render.payload(child.input)
    return shaped


def _invocation_completed(event: HistoryEvent, render: _Render) -> dict[str, Any]:
    started = event.details.get("started_at", event.timestamp)
    shaped: dict[str, Any] = {
        "StartTimestamp": started, "EndTimestamp": started + event.details.get("duration", 0),
        "RequestId": f"{render.execution.id}/{event.details.get('invocation', 0)}",
    }
    if "error" in event.details:
        shaped["Error"] = render.error(event.details["error"])
    return shaped


_DETAILS: dict[str, Details] = {
    "ExecutionStarted": _execution_started,
    "ExecutionSucceeded": _result,
    "ExecutionFailed": _error,
    "ExecutionTimedOut": _error,
    "ExecutionStopped": _execution_stopped,
    "ContextSucceeded": _result,
    "ContextFailed": _error,
    "WaitStarted": _wait_started,
    "WaitSucceeded": _wait_succeeded,
    "WaitCancelled": _error,
    "StepSucceeded": _step_finished,
    "StepFailed": _step_finished,
    "ChainedInvokeStarted": _invoke_started,
    "ChainedInvokeSucceeded": _result,
    "ChainedInvokeFailed": _error,
    "ChainedInvokeTimedOut": _error,
    "ChainedInvokeStopped": _error,
    "CallbackStarted": _callback_started,
    "CallbackSucceeded": _result,
    "CallbackFailed": _error,
    "CallbackTimedOut": _callback_timed_out,
    "InvocationCompleted": _invocation_completed,
}

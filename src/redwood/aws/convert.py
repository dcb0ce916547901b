"""Translation between the AWS data-plane shapes (the SDK's own types) and Redwood's model.

Both sides share the operation model (types, statuses, actions), so this is field mapping:
options become update delays and details; Redwood operations become AWS operations with their
StepDetails / WaitDetails / CallbackDetails / ContextDetails / ChainedInvokeDetails.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from aws_durable_execution_sdk_python import lambda_service as aws

from redwood.aws import arn
from redwood.model import ErrorRecord, Execution, Operation, OperationUpdate
from redwood.types import OperationAction, OperationStatus, OperationType

# AWS reports a callback's timeout with these error types and messages.
CALLBACK_TIMEOUT = {
    "timeout": aws.ErrorObject("Callback timed out", aws.CallbackTimeoutType.TIMEOUT.value,
                               None, None),
    "heartbeat": aws.ErrorObject("Callback timed out on heartbeat",
                                 aws.CallbackTimeoutType.HEARTBEAT.value, None, None),
}


def timestamp(seconds: float | None) -> datetime.datetime | None:
    """Epoch seconds as the aware datetime the SDK expects."""
    return None if seconds is None else datetime.datetime.fromtimestamp(seconds, datetime.UTC)


# --- errors -------------------------------------------------------------------------------------


def to_record(error: aws.ErrorObject) -> ErrorRecord:
    """An AWS ErrorObject as Redwood records it (absent type or message become empty text)."""
    return ErrorRecord(
        type=error.type or "", message=error.message or "", data=error.data,
        stack_trace=None if error.stack_trace is None else tuple(error.stack_trace),
    )


def to_error_object(record: ErrorRecord) -> aws.ErrorObject:
    """A Redwood error as an AWS ErrorObject (Redwood's own errors show their traceback)."""
    error_type = record.type.removeprefix("builtins.") or None
    stack: list[str] | None = None
    if record.stack_trace is not None:
        stack = list(record.stack_trace)
    elif record.traceback:
        stack = record.traceback.splitlines()
    return aws.ErrorObject(record.message, error_type, record.data, stack)


# --- updates: AWS -> Redwood --------------------------------------------------------------------


def to_update(update: aws.OperationUpdate, function_name: Callable[[str], str]) -> OperationUpdate:
    """One AWS OperationUpdate as a Redwood update; ``function_name`` resolves invoke targets."""
    op_type = OperationType(update.operation_type.value)
    action = OperationAction(update.action.value)
    delay: float | None = None
    details: dict[str, Any] | None = None
    if update.step_options is not None and action is OperationAction.RETRY:
        delay = float(update.step_options.next_attempt_delay_seconds)
    if update.wait_options is not None and action is OperationAction.START:
        delay = float(update.wait_options.wait_seconds)
    if update.callback_options is not None:
        options = update.callback_options
        # Zero means "no limit" on the AWS API.
        details = {"timeout": options.timeout_seconds or None,
                   "heartbeat_timeout": options.heartbeat_timeout_seconds or None}
    if update.chained_invoke_options is not None:
        invoke = update.chained_invoke_options
        details = {"function": function_name(invoke.function_name),
                   "function_name": invoke.function_name}
        if invoke.tenant_id is not None:
            details["tenant_id"] = invoke.tenant_id
    if update.context_options is not None and update.context_options.replay_children:
        details = {"replay_children": True}
    return OperationUpdate(
        id=update.operation_id, parent_id=update.parent_id, type=op_type, action=action,
        name=update.name, subtype=update.sub_type, payload=update.payload,
        error=None if update.error is None else to_record(update.error), delay=delay,
        details=details,
    )


# --- operations: Redwood -> AWS -----------------------------------------------------------------


def execution_operation(execution: Execution) -> aws.Operation:
    """The EXECUTION operation AWS code expects first in the state: the input, and the start."""
    return aws.Operation(
        operation_id=arn.execution_key(execution.id),
        operation_type=aws.OperationType.EXECUTION,
        status=aws.OperationStatus.STARTED if not execution.status.finished
        else aws.OperationStatus(execution.status.value),
        start_timestamp=timestamp(execution.created_at),
        end_timestamp=timestamp(execution.ended_at),
        execution_details=aws.ExecutionDetails(input_payload=execution.input),
    )


def to_operation(op: Operation) -> aws.Operation:
    """A Redwood journal entry as the AWS data plane returns it."""
    error = None if op.error is None else to_error_object(op.error)
    if op.status is OperationStatus.TIMED_OUT and op.type is OperationType.CALLBACK:
        error = CALLBACK_TIMEOUT.get(op.details.get("timed_out", "timeout"), error)
    fields: dict[str, Any] = {}
    if op.type is OperationType.STEP:
        fields["step_details"] = aws.StepDetails(
            attempt=_attempts_done(op),
            next_attempt_timestamp=timestamp(op.due_at)
            if op.status is OperationStatus.PENDING else None,
            result=op.result, error=error,
        )
    elif op.type is OperationType.WAIT:
        fields["wait_details"] = aws.WaitDetails(
            scheduled_end_timestamp=timestamp(op.due_at or op.details.get("scheduled_end")))
    elif op.type is OperationType.CALLBACK:
        fields["callback_details"] = aws.CallbackDetails(
            callback_id=op.details.get("callback_id", ""), result=op.result, error=error)
    elif op.type is OperationType.CONTEXT:
        fields["context_details"] = aws.ContextDetails(
            replay_children=bool(op.details.get("replay_children")), result=op.result,
            error=error)
    elif op.type is OperationType.CHAINED_INVOKE:
        fields["chained_invoke_details"] = aws.ChainedInvokeDetails(result=op.result, error=error)
    return aws.Operation(
        operation_id=op.id, operation_type=aws.OperationType(op.type.value),
        status=aws.OperationStatus(op.status.value), parent_id=op.parent_id, name=op.name,
        start_timestamp=timestamp(op.started_at), end_timestamp=timestamp(op.ended_at),
        sub_type=op.subtype, **fields,
    )


def _attempts_done(op: Operation) -> int:
    # AWS counts finished attempts; Redwood numbers the attempt under way.
    if op.status is OperationStatus.STARTED:
        return max(op.attempt - 1, 0)
    return op.attempt

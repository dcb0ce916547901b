"""The AWS SDK's service client (checkpoint, get execution state) over one Redwood invocation.

The engine behaves as the AWS service does for each update (transitions.py); this module only
translates, pages the state, and turns Redwood's answers into the service's: a stale token is
refused as "Invalid checkpoint token", a cancelled or timed-out execution (or a worker handing
its executions back) withdraws the token so the SDK ends the invocation PENDING, and the
EXECUTION update of a result too large for the response ends the execution.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from aws_durable_execution_sdk_python import lambda_service as aws
from aws_durable_execution_sdk_python.exceptions import (
    CheckpointError,
    DurableApiErrorCategory,
    GetExecutionStateError,
)

from redwood.aws import arn, convert
from redwood.engine.invocation import Invocation
from redwood.errors import LeaseLost, RedwoodError
from redwood.model import Execution, OperationUpdate
from redwood.sdk.invoke import child_execution_id
from redwood.types import OperationAction, OperationType

_INVALID = "InvalidParameterValueException"


@dataclass(frozen=True, slots=True)
class ServiceLimits:
    """How the service pages state and how large an update's payload may be."""

    page_size: int = 1000
    max_payload_bytes: int = 1 << 20


class InvocationService:
    """A DurableServiceClient for one invocation of one execution."""

    def __init__(
        self, invocation: Invocation, execution: Execution, function_name: Callable[[str], str],
        limits: ServiceLimits,
    ) -> None:
        self.arn = arn.execution_arn(execution.id, execution.function)
        self.final: aws.OperationUpdate | None = None
        self.stopped = False
        self.handed_back = False
        self.lease_lost: LeaseLost | None = None
        self._invocation = invocation
        self._execution = execution
        self._function_name = function_name
        self._limits = limits
        self._sequence = 0
        self._lock = threading.Lock()

    @property
    def token(self) -> str:
        """The checkpoint token the next checkpoint must carry."""
        return arn.Token(self._invocation.lease_token, self._sequence).encode()

    def updated_operation_ids(self) -> frozenset[str]:
        """Operations the engine changed while the execution was suspended (timers that fired
        when it was claimed: waits, retry back-offs, callback timeouts)."""
        return self._invocation.changed_at_claim

    def operations(self) -> list[aws.Operation]:
        """The whole state in journal order, the EXECUTION operation first."""
        journal = list(self._invocation.get_state(self._sequence))
        return [convert.execution_operation(self._execution),
                *(convert.to_operation(op) for op in journal)]

    def page(self, marker: str | None, max_items: int | None = None) -> tuple[list[aws.Operation], str | None]:
        """One page of the state from ``marker`` (an offset), and the marker of the next."""
        size = min(max_items or self._limits.page_size, self._limits.page_size)
        start = int(marker) if marker else 0
        everything = self.operations()
        end = start + size
        return everything[start:end], str(end) if end < len(everything) else None

    # --- DurableServiceClient -------------------------------------------------------------------

    def checkpoint(
        self, durable_execution_arn: str, checkpoint_token: str,
        updates: list[aws.OperationUpdate], client_token: str | None,
    ) -> aws.CheckpointOutput:
        with self._lock:
            self._check(durable_execution_arn, checkpoint_token, CheckpointError, exact=True)
            finals = [u for u in updates if u.operation_type is aws.OperationType.EXECUTION]
            translated = self._translate([u for u in updates if u not in finals])
            try:
                result = self._invocation.checkpoint(self._sequence, translated)
            except LeaseLost as lost:
                self.lease_lost = lost
                raise _error(CheckpointError, 400, _INVALID,
                             f"Invalid checkpoint token: {lost.message}") from None
            self._sequence = result.token
            changed = [convert.to_operation(op) for op in result.operations]
            state = aws.CheckpointUpdatedExecutionState(operations=changed)
            if finals:
                # The execution's own result ends it: no token follows (the AWS service's way).
                self.final = finals[-1]
                return aws.CheckpointOutput(checkpoint_token=None, new_execution_state=state)
            if result.cancel_requested or result.handback:
                # Withdrawing the token makes the SDK stop and answer PENDING at once.
                self.stopped = self.stopped or result.cancel_requested
                self.handed_back = self.handed_back or result.handback
                return aws.CheckpointOutput(checkpoint_token=None, new_execution_state=state)
            return aws.CheckpointOutput(checkpoint_token=self.token, new_execution_state=state)

    def get_execution_state(
        self, durable_execution_arn: str, checkpoint_token: str, next_marker: str,
        max_items: int = 1000,
    ) -> aws.StateOutput:
        with self._lock:
            self._check(durable_execution_arn, checkpoint_token, GetExecutionStateError,
                        exact=False)
            operations, marker = self.page(next_marker, max_items)
            return aws.StateOutput(operations=operations, next_marker=marker)

    # --- checks ---------------------------------------------------------------------------------

    def _check(self, given_arn: str, token_text: str, error: type[CheckpointError]
               | type[GetExecutionStateError], *, exact: bool) -> None:
        if given_arn != self.arn:
            raise _error(error, 400, _INVALID,
                         f'Checkpoint for {given_arn!r} sent to the invocation of "{self.arn}".')
        try:
            token = arn.Token.decode(token_text)
        except RedwoodError as invalid:
            raise _error(error, 400, _INVALID, f"Invalid checkpoint token: {invalid.message}"
                         ) from None
        current = token.lease_token == self._invocation.lease_token and (
            token.sequence == self._sequence if exact else token.sequence <= self._sequence)
        if not current:
            # The prefix makes the SDK treat it as retryable: a later invocation gets a new one.
            raise _error(error, 400, _INVALID,
                         f"Invalid checkpoint token: {token_text!r} is stale; use the token the "
                         "previous checkpoint returned.")

    def _translate(self, updates: Sequence[aws.OperationUpdate]) -> list[OperationUpdate]:
        translated = []
        for update in updates:
            size = len((update.payload or "").encode())
            if size > self._limits.max_payload_bytes:
                raise _error(
                    CheckpointError, 400, _INVALID,
                    f"Operation {update.operation_id!r} ({update.name or 'unnamed'}): the payload "
                    f"is {size} bytes, above the limit of {self._limits.max_payload_bytes}. Keep "
                    "large data elsewhere and checkpoint a reference, or raise "
                    "App(max_payload_bytes=...).")
            translated.append(self._child_id(convert.to_update(update, self._function_name)))
        return translated

    def _child_id(self, update: OperationUpdate) -> OperationUpdate:
        # A chained invoke names its child execution as Redwood's own invokes do.
        if update.type is not OperationType.CHAINED_INVOKE or update.action is not \
                OperationAction.START:
            return update
        child_id = child_execution_id(self._execution.id, update.id)
        return replace(update, details={**(update.details or {}), "child_execution_id": child_id})


def _error(
    error: type[CheckpointError] | type[GetExecutionStateError], status: int, code: str,
    message: str,
) -> CheckpointError | GetExecutionStateError:
    """An error the SDK classifies as the service's would be (retryable or not)."""
    category = DurableApiErrorCategory.EXECUTION
    if message.startswith("Invalid checkpoint token") or status >= 500:
        category = DurableApiErrorCategory.INVOCATION
    return error(message, category, {"Code": code, "Message": message},
                 {"RequestId": None, "HostId": None, "HTTPStatusCode": status,
                  "HTTPHeaders": None, "RetryAttempts": None})

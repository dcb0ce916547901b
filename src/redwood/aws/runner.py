"""Run one invocation of an unmodified ``@durable_execution`` handler on a Redwood worker.

The handler gets the invocation envelope the AWS service would send (ARN, checkpoint token,
first page of the state) with a service client over the claimed invocation, and answers with
the invocation output (SUCCEEDED / FAILED / PENDING), which becomes the invocation's outcome.
An invocation that raises instead is retried with a back-off, like a failed Lambda invocation.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_durable_execution_sdk_python import lambda_service as aws
from aws_durable_execution_sdk_python.execution import (
    DurableExecutionInvocationInput,
    DurableExecutionInvocationInputWithClient,
    InitialExecutionState,
)

from redwood.aws import convert
from redwood.aws.service import InvocationService, ServiceLimits
from redwood.engine.invocation import Invocation
from redwood.model import ErrorRecord, Execution
from redwood.sdk.run import Ending, InvocationOutcome
from redwood.store.base import Store

Handler = Callable[[Any, Any], Any]


@dataclass(frozen=True, slots=True)
class InvocationRetry:
    """How a crashed invocation (the handler raised) is retried before the execution fails."""

    max_attempts: int = 5
    initial_delay: float = 1.0
    backoff_rate: float = 2.0
    max_delay: float = 60.0

    def delay(self, crashes: int) -> float:
        """Seconds before the next invocation after ``crashes`` crashes in a row."""
        return min(self.max_delay, self.initial_delay * self.backoff_rate ** (crashes - 1))


@dataclass
class LambdaContext:
    """What a Lambda handler finds in its context argument (Redwood imposes no deadline)."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str | None = None
    function_version: str = "$LATEST"
    memory_limit_in_mb: str | None = None
    log_group_name: str | None = None
    log_stream_name: str | None = None
    tenant_id: str | None = None
    client_context: Any = None
    identity: Any = None

    def get_remaining_time_in_millis(self) -> int:
        """Redwood does not cut invocations short: report the Lambda maximum, 15 minutes."""
        return 15 * 60 * 1000

    def log(self, msg: str) -> None:
        """Lambda's raw log call; here it goes to standard output."""
        print(msg, end="")


def envelope(service: InvocationService) -> DurableExecutionInvocationInput:
    """The invocation input: ARN, token and the first page of the state."""
    operations, marker = service.page(None)
    return DurableExecutionInvocationInput(
        durable_execution_arn=service.arn, checkpoint_token=service.token,
        initial_execution_state=InitialExecutionState(operations=operations,
                                                      next_marker=marker or ""),
        updated_operation_ids=sorted(service.updated_operation_ids()),
    )


class AwsRunner:
    """The engine's Runner for one registered AWS handler."""

    def __init__(
        self, handler: Handler, store: Store, function_name: Callable[[str], str],
        limits: ServiceLimits, retry: InvocationRetry,
    ) -> None:
        self.handler = handler
        self._store = store
        self._function_name = function_name
        self._limits = limits
        self._retry = retry

    def service(self, invocation: Invocation, execution: Execution) -> InvocationService:
        """A service client over ``invocation``."""
        return InvocationService(invocation, execution, self._function_name, self._limits)

    def __call__(self, invocation: Invocation, execution: Execution) -> InvocationOutcome:
        return self.run(invocation, execution, self.service(invocation, execution))

    def run(
        self, invocation: Invocation, execution: Execution, service: InvocationService
    ) -> InvocationOutcome:
        """Invoke the handler once with ``service`` and turn its output into an outcome."""
        event = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input(
            envelope(service), service)
        context = LambdaContext(function_name=execution.function,
                                invoked_function_arn=service.arn)
        try:
            output = self.handler(event, context)
        except Exception as error:
            if service.lease_lost is not None:
                raise service.lease_lost from None
            return self.crashed(invocation, ErrorRecord.from_exception(error))
        return self.outcome(invocation, service, output)

    def outcome(
        self, invocation: Invocation, service: InvocationService, output: Any
    ) -> InvocationOutcome:
        """The invocation output (the handler's return value) as an invocation outcome."""
        if service.lease_lost is not None:
            raise service.lease_lost
        status = output.get("Status") if isinstance(output, Mapping) else None
        if service.final is not None:
            return _final(service.final)
        if status == aws.InvocationStatus.SUCCEEDED.value:
            return InvocationOutcome(Ending.SUCCEEDED, result=output.get("Result"))
        if status == aws.InvocationStatus.FAILED.value:
            error = output.get("Error")
            record = convert.to_record(aws.ErrorObject.from_dict(error)) if error else \
                ErrorRecord(type="Unknown", message="the handler failed without an error")
            return InvocationOutcome(Ending.FAILED, error=record)
        if status == aws.InvocationStatus.PENDING.value:
            if service.stopped:
                return InvocationOutcome(Ending.STOPPED)
            return InvocationOutcome(Ending.SUSPENDED, immediate=service.handed_back)
        shown = json.dumps(output, default=repr)[:200]
        return self.crashed(invocation, ErrorRecord(
            type="redwood.aws.InvalidInvocationOutput",
            message=f"The handler returned {shown}, not a durable invocation output with a "
                    "Status of SUCCEEDED, FAILED or PENDING; is it decorated with "
                    "@durable_execution?"))

    def crashed(self, invocation: Invocation, error: ErrorRecord) -> InvocationOutcome:
        """A failed invocation: run again after a back-off, or fail after too many in a row."""
        crashes = 1 + _crashes_in_a_row(self._store, invocation.execution_id)
        if crashes >= self._retry.max_attempts:
            return InvocationOutcome(Ending.FAILED, error=error)
        return InvocationOutcome(Ending.SUSPENDED, error=error,
                                 retry_after=self._retry.delay(crashes))


def _final(update: aws.OperationUpdate) -> InvocationOutcome:
    # The result (or error) checkpointed on the EXECUTION operation because it was too large
    # for the invocation output.
    if update.action is aws.OperationAction.SUCCEED:
        return InvocationOutcome(Ending.SUCCEEDED, result=update.payload)
    error = convert.to_record(update.error) if update.error is not None else \
        ErrorRecord(type="Unknown", message="the execution failed without an error")
    return InvocationOutcome(Ending.FAILED, error=error)


def _crashes_in_a_row(store: Store, execution_id: str) -> int:
    """How many of the execution's latest invocations crashed (read on this rare path only)."""
    crashes = 0
    after = 0
    while True:
        events = store.history(execution_id, after, 1000)
        if not events:
            return crashes
        for event in events:
            if event.type == "InvocationCompleted":
                crashes = crashes + 1 if "error" in event.details else 0
        after = events[-1].id

"""Handlers in another process: Redwood invokes them over the Lambda Invoke API, and they call
back Redwood's Lambda durable execution REST API (redwood.aws.http) with the SDK's own client.

``Gateway`` keeps the invocations now running remotely, so the REST data plane can find the
invocation a checkpoint belongs to: the worker that invokes the handler and the HTTP server it
calls back must share one process (as in ``redwood serve`` with its embedded worker).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from redwood.app import App
from redwood.aws.register import function_resolver
from redwood.aws.runner import AwsRunner, InvocationRetry
from redwood.aws.service import InvocationService, ServiceLimits
from redwood.durations import Duration
from redwood.engine.invocation import Invocation
from redwood.engine.registry import DurableFunction
from redwood.model import ErrorRecord, Execution
from redwood.sdk.run import InvocationOutcome

# Sends one invocation envelope to a function and returns the handler's output.
Invoker = Callable[[str, dict[str, Any]], Any]


class Gateway:
    """The remote side of redwood.aws for one app: live invocations, and remote functions."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._live: dict[str, InvocationService] = {}
        self._lock = threading.Lock()

    def live(self, execution_id: str) -> InvocationService | None:
        """The service of the execution's invocation running now, if any."""
        with self._lock:
            return self._live.get(execution_id)

    def register_remote(
        self, name: str, endpoint_url: str, *, function_name: str | None = None,
        timeout: Duration | None = None, page_size: int = 1000,
        invocation_retry: InvocationRetry | None = None, invoker: Invoker | None = None,
    ) -> DurableFunction[Any, Any]:
        """Register function ``name`` whose handler runs behind ``endpoint_url``, an endpoint of
        the Lambda Invoke API (the Lambda runtime interface emulator, or any host of it).

        ``function_name`` is the name to invoke there (default ``name``).
        """
        target = function_name or name
        send = invoker or lambda_invoker(endpoint_url)
        limits = ServiceLimits(page_size=page_size,
                               max_payload_bytes=self.app.engine.codec.max_bytes)

        def handler(event: Any, context: Any) -> Any:
            # The envelope is sent as JSON, as the Lambda service sends it.
            return send(target, event.to_json_dict())

        runner = _RemoteRunner(self, handler, self.app, limits,
                               invocation_retry or InvocationRetry())
        return self.app.registry.add(handler, name, None, timeout, runner=runner)

    def _enter(self, service: InvocationService, execution_id: str) -> None:
        with self._lock:
            self._live[execution_id] = service

    def _leave(self, execution_id: str) -> None:
        with self._lock:
            self._live.pop(execution_id, None)


class _RemoteRunner(AwsRunner):
    """Runs invocations of a remote handler, its service reachable through the gateway."""

    def __init__(self, gateway: Gateway, handler: Callable[[Any, Any], Any], app: App,
                 limits: ServiceLimits, retry: InvocationRetry) -> None:
        super().__init__(handler, app.store, function_resolver(app.registry), limits, retry)
        self._gateway = gateway

    def __call__(self, invocation: Invocation, execution: Execution) -> InvocationOutcome:
        service = self.service(invocation, execution)
        self._gateway._enter(service, execution.id)
        try:
            return self.run(invocation, execution, service)
        finally:
            self._gateway._leave(execution.id)


def lambda_invoker(endpoint_url: str) -> Invoker:
    """Invoke functions behind ``endpoint_url`` with the Lambda Invoke API (botocore)."""
    client = boto3.client(
        "lambda", endpoint_url=endpoint_url, region_name="us-east-1",
        aws_access_key_id="redwood", aws_secret_access_key="redwood",
        config=Config(read_timeout=960, retries={"max_attempts": 0}),
    )

    def invoke(function_name: str, envelope: dict[str, Any]) -> Any:
        response = client.invoke(FunctionName=function_name, InvocationType="RequestResponse",
                                 Payload=json.dumps(envelope).encode())
        output = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            record = ErrorRecord(type=str(output.get("errorType", "FunctionError")),
                                 message=str(output.get("errorMessage", output)))
            raise RemoteInvocationFailed(record)
        return output

    return invoke


class RemoteInvocationFailed(Exception):
    """The remote handler raised (Lambda's FunctionError): the invocation is retried."""

    def __init__(self, record: ErrorRecord) -> None:
        super().__init__(f"{record.type}: {record.message}")
        self.record = record

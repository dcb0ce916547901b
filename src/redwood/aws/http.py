"""The Lambda durable execution REST API over a Redwood app, as Starlette routes.

Data plane (checkpoint, get state) for handlers Redwood invokes remotely; callbacks (succeed,
fail, heartbeat); control plane (get execution, get history, list by function, stop); and the
Invoke call that starts an execution. Point the SDK's boto3 client at it with ``endpoint_url``
(or ``AWS_ENDPOINT_URL_LAMBDA``). To serve it from ``redwood serve`` (or any Starlette app)::

    starlette_app.router.routes.append(Mount("/aws", routes=redwood.aws.http.routes(gateway)))

and give clients ``endpoint_url="http://<host>:<port>/aws"``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from aws_durable_execution_sdk_python import lambda_service as aws
from aws_durable_execution_sdk_python.exceptions import BotoClientError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from redwood.aws import arn, control, convert
from redwood.aws.remote import Gateway
from redwood.client import ExecutionHandle
from redwood.engine.outside import Outside
from redwood.errors import (
    CallbackAlreadyCompleted,
    ExecutionConflict,
    RedwoodError,
    UnknownCallback,
    UnknownExecution,
    UnknownFunction,
)
from redwood.types import OperationStatus

_EXECUTIONS = "/2025-12-01/durable-executions/"
_CALLBACKS = "/2025-12-01/durable-execution-callbacks/"
Endpoint = Callable[[Request], Awaitable[Response]]


def routes(gateway: Gateway) -> list[Route]:
    """The REST API's routes for ``gateway`` (mount them at the root of an endpoint URL)."""
    api = _Api(gateway)
    return [
        Route(_EXECUTIONS + "{rest:path}", api.execution, methods=["GET", "POST"]),
        Route(_CALLBACKS + "{rest:path}", api.callback, methods=["POST"]),
        Route("/2025-12-01/functions/{function}/durable-executions", api.list,
              methods=["GET"]),
        Route("/2015-03-31/functions/{function}/invocations", api.invoke, methods=["POST"]),
    ]


class _Api:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.app = gateway.app
        self.outside = Outside(gateway.app.engine)

    # --- /durable-executions/{arn}[/checkpoint|/state|/history|/stop] ---------------------------

    async def execution(self, request: Request) -> Response:
        try:
            execution_arn, action = _split(request, _EXECUTIONS)
            handler = {
                ("POST", "checkpoint"): self._checkpoint, ("GET", "state"): self._state,
                ("GET", "history"): self._history, ("POST", "stop"): self._stop,
                ("GET", ""): self._describe,
            }.get((request.method, action))
            if handler is None:
                return _error(404, "ResourceNotFoundException",
                              f"No such durable execution API: {request.method} {action!r}.")
            body = await request.body()
            return await run_in_threadpool(handler, execution_arn, request, body)
        except Exception as error:  # every error becomes the service's error document
            return _refusal(error)

    def _checkpoint(self, execution_arn: str, request: Request, body: bytes) -> Response:
        data = json.loads(body or b"{}")
        service = self._service(execution_arn)
        output = service.checkpoint(
            execution_arn, data.get("CheckpointToken", ""),
            [aws.OperationUpdate.from_dict(update) for update in data.get("Updates", [])],
            data.get("ClientToken"))
        shaped: dict[str, Any] = {"NewExecutionState": {
            "Operations": [op.to_dict() for op in output.new_execution_state.operations]}}
        if output.checkpoint_token is not None:
            shaped["CheckpointToken"] = output.checkpoint_token
        return _json(shaped)

    def _state(self, execution_arn: str, request: Request, body: bytes) -> Response:
        query = request.query_params
        service = self._service(execution_arn)
        max_items = int(query["MaxItems"]) if query.get("MaxItems") else 1000
        output = service.get_execution_state(execution_arn, query.get("CheckpointToken", ""),
                                             query.get("Marker", ""), max_items)
        shaped: dict[str, Any] = {"Operations": [op.to_dict() for op in output.operations]}
        if output.next_marker:
            shaped["NextMarker"] = output.next_marker
        return _json(shaped)

    def _service(self, execution_arn: str) -> Any:
        service = self.gateway.live(arn.execution_id(execution_arn))
        if service is None:
            raise _Refused(400, "InvalidParameterValueException",
                           "Invalid checkpoint token: no invocation of this execution is running "
                           "now; the next invocation brings a new token.")
        return service

    def _describe(self, execution_arn: str, request: Request, body: bytes) -> Response:
        include = request.query_params.get("IncludeExecutionData", "true") == "true"
        return _json(control.describe(self.app, arn.execution_id(execution_arn), include))

    def _history(self, execution_arn: str, request: Request, body: bytes) -> Response:
        query = request.query_params
        return _json(control.history_page(
            self.app, arn.execution_id(execution_arn),
            include_data=query.get("IncludeExecutionData") == "true",
            marker=query.get("Marker"), max_items=int(query.get("MaxItems") or 1000),
            reverse=query.get("ReverseOrder") == "true"))

    def _stop(self, execution_arn: str, request: Request, body: bytes) -> Response:
        stopped = self.app.engine.cancel(arn.execution_id(execution_arn))
        return _json({"StopTimestamp": stopped.ended_at or self.app.clock.now()})

    # --- /durable-execution-callbacks/{id}/succeed|fail|heartbeat ------------------------------

    async def callback(self, request: Request) -> Response:
        try:
            callback_id, action = _split(request, _CALLBACKS)
            body = await request.body()
            outside = self.outside
            if action == "succeed":
                await run_in_threadpool(outside.callback_answer, callback_id, body.decode())
            elif action == "fail":
                error = convert.to_record(aws.ErrorObject.from_dict(json.loads(body or b"{}")))
                await run_in_threadpool(outside.callback_answer, callback_id, None, error)
            elif action == "heartbeat":
                await run_in_threadpool(outside.callback_heartbeat, callback_id)
            else:
                return _error(404, "ResourceNotFoundException",
                              f"No such callback API: {action!r}.")
            return _json({})
        except Exception as error:
            return _refusal(error)

    # --- /functions/{name}/durable-executions and Invoke ---------------------------------------

    async def list(self, request: Request) -> Response:
        try:
            query = request.query_params
            shaped = await run_in_threadpool(
                control.list_page, self.app, request.path_params["function"],
                query.getlist("Statuses"), query.get("Marker"),
                int(query.get("MaxItems") or 100))
            return _json(shaped)
        except Exception as error:
            return _refusal(error)

    async def invoke(self, request: Request) -> Response:
        """Invoke of a durable function: start an execution (named by the
        X-Amz-Durable-Execution-Name header, the idempotency key) and answer at once."""
        try:
            body = await request.body()
            payload = json.loads(body) if body.strip() else None
            name = request.headers.get("X-Amz-Durable-Execution-Name")
            function = control.function_name(self.app, request.path_params["function"])
            handle: ExecutionHandle[Any] = await run_in_threadpool(
                self.app.start, function, payload, id=name)
            return Response(status_code=202, headers={
                "X-Amz-Durable-Execution-Arn": arn.execution_arn(handle.id, function),
                "X-Amz-Executed-Version": arn.VERSION})
        except Exception as error:
            return _refusal(error)


# --- paths, answers and errors ------------------------------------------------------------------


def _split(request: Request, prefix: str) -> tuple[str, str]:
    """The resource (an ARN or callback id, percent-decoded) and the action after it, read
    from the raw path: botocore encodes the ARN's slashes, the decoded path has lost that."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    text = raw.decode("latin-1").split("?", 1)[0]
    rest = text[text.index(prefix) + len(prefix):]
    resource, _, action = rest.partition("/")
    return unquote(resource), action


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _refusal(error: Exception) -> Response:
    if isinstance(error, _Refused):
        return _error(error.status, error.code, error.message)
    if isinstance(error, BotoClientError):
        status = (error.response_metadata["HTTPStatusCode"] if error.response_metadata
                  else None) or 400
        code = (error.error["Code"] if error.error else None) or "InvalidParameterValueException"
        return _error(status, code, str(error))
    if isinstance(error, (UnknownExecution, UnknownCallback, UnknownFunction)):
        return _error(404, "ResourceNotFoundException", error.message)
    if isinstance(error, CallbackAlreadyCompleted) and \
            getattr(error, "status", None) is OperationStatus.TIMED_OUT:
        return _error(400, "CallbackTimeoutException", error.message)
    if isinstance(error, ExecutionConflict):
        return _error(409, "ResourceConflictException", error.message)
    if isinstance(error, (RedwoodError, ValueError, KeyError)):
        return _error(400, "InvalidParameterValueException", str(error))
    return _error(500, "ServiceException", f"{type(error).__name__}: {error}")


def _error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"Type": "User" if status < 500 else "Service", "message": message,
                       "Message": message})
    return Response(body, status_code=status, media_type="application/json",
                    headers={"x-amzn-ErrorType": code})


def _json(data: dict[str, Any]) -> Response:
    return Response(json.dumps(data, default=_timestamp), media_type="application/json")


def _timestamp(value: Any) -> Any:
    # The REST API's JSON carries timestamps as epoch seconds.
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")

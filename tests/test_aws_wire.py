"""The Lambda durable execution REST API over the wire: a handler in another process, using the
SDK's own boto3 client pointed at Redwood, runs on Redwood; clients use boto3 as against AWS."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration
from botocore.config import Config
from botocore.exceptions import ClientError
from starlette.applications import Starlette

import redwood.aws
from aws_support import drain
from conftest import wait_until
from redwood import App, ExecutionStatus, ManualClock
from redwood.aws.http import routes
from redwood.aws.remote import Gateway

REPO = Path(__file__).resolve().parent.parent


class LoopbackServer:
    """Redwood's REST API on uvicorn, on a free loopback port, in a thread of this process."""

    def __init__(self, gateway: Gateway) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(Starlette(routes=routes(gateway)), log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        wait_until(lambda: self._server.started, what="uvicorn to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def lambda_client(url: str) -> Any:
    return boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 0}))


def start_host(redwood_url: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "AWS_ENDPOINT_URL_LAMBDA": redwood_url, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO / "src")])}
    process = subprocess.Popen([sys.executable, str(REPO / "tests" / "aws_function_host.py")],
                               env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    return process, f"http://127.0.0.1:{port}"


def test_handler_in_another_process_runs_on_redwood_over_the_wire(
    app: App, clock: ManualClock
) -> None:
    gateway = Gateway(app)
    with LoopbackServer(gateway) as server:
        host, host_url = start_host(server.url)
        try:
            gateway.register_remote("orders", host_url)
            client = lambda_client(server.url)
            order = {"order": "o-1", "items": [{"price": 3}, {"price": 4}]}
            started = client.invoke(FunctionName="orders", InvocationType="Event",
                                    DurableExecutionName="order-1",
                                    Payload=json.dumps(order).encode())
            execution_arn = started["DurableExecutionArn"]
            assert started["StatusCode"] == 202
            assert execution_arn == redwood.aws.execution_arn("order-1", "orders")

            drain(app)  # the remote handler runs until it waits for the approval
            history = client.get_durable_execution_history(DurableExecutionArn=execution_arn,
                                                           IncludeExecutionData=True)["Events"]
            [callback] = [e for e in history if e["EventType"] == "CallbackStarted"]
            callback_id = callback["CallbackStartedDetails"]["CallbackId"]
            assert client.get_durable_execution(DurableExecutionArn=execution_arn)[
                "Status"] == "RUNNING"

            client.send_durable_execution_callback_heartbeat(CallbackId=callback_id)
            client.send_durable_execution_callback_success(CallbackId=callback_id,
                                                           Result=b'"approved"')
            drain(app)
            described = client.get_durable_execution(DurableExecutionArn=execution_arn,
                                                     IncludeExecutionData=True)
            assert described["Status"] == "SUCCEEDED"
            assert json.loads(described["Result"]) == {
                "total": 7, "decision": '"approved"', "status": "shipped o-1"}
            events = client.get_durable_execution_history(
                DurableExecutionArn=execution_arn)["Events"]
            assert [e["EventId"] for e in events] == list(range(1, len(events) + 1))
            assert [e["EventType"] for e in events].count("InvocationCompleted") == 2
            listed = client.list_durable_executions_by_function(FunctionName="orders")
            assert [e["DurableExecutionName"] for e in listed["DurableExecutions"]] == ["order-1"]
            with pytest.raises(ClientError) as late:
                client.send_durable_execution_callback_success(CallbackId=callback_id,
                                                               Result=b"again")
            assert late.value.response["Error"]["Code"] == "ResourceConflictException"
        finally:
            host.kill()
            host.wait(timeout=10)
    assert app.client.get("order-1").status is ExecutionStatus.SUCCEEDED


def test_stop_and_unknown_resources_over_the_wire(app: App) -> None:
    gateway = Gateway(app)
    redwood.aws.register(app, _waits_a_day, name="waiter")
    with LoopbackServer(gateway) as server:
        client = lambda_client(server.url)
        handle = app.start("waiter", None, id="waiter-1")
        drain(app)
        execution_arn = redwood.aws.execution_arn(handle.id, "waiter")
        stopped = client.stop_durable_execution(DurableExecutionArn=execution_arn)
        assert stopped["StopTimestamp"] is not None
        assert handle.status() is ExecutionStatus.STOPPED
        with pytest.raises(ClientError) as unknown:
            client.get_durable_execution(
                DurableExecutionArn=redwood.aws.execution_arn("nope", "waiter"))
        assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
        with pytest.raises(ClientError) as unknown_callback:
            client.send_durable_execution_callback_failure(
                CallbackId="abc123", Error={"ErrorMessage": "x", "ErrorType": "Y"})
        assert unknown_callback.value.response["Error"]["Code"] == "ResourceNotFoundException"


@durable_execution
def _waits_a_day(event: Any, context: DurableContext) -> None:
    context.wait(Duration.from_days(1))

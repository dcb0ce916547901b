"""The service client under the SDK: tokens, pagination of the state, plugins, the data plane
over HTTP (Starlette TestClient), and the engine's answers to AWS-style updates."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from aws_durable_execution_sdk_python import CallbackError, DurableContext, durable_execution
from aws_durable_execution_sdk_python import lambda_service as aws
from aws_durable_execution_sdk_python.config import CallbackConfig, Duration
from aws_durable_execution_sdk_python.exceptions import CheckpointError
from aws_durable_execution_sdk_python.plugin import (
    DurableInstrumentationPlugin,
    InvocationEndInfo,
    InvocationStartInfo,
    OperationEndInfo,
)
from starlette.applications import Starlette
from starlette.testclient import TestClient

import redwood.aws
from aws_support import drain, run
from redwood import App, ExecutionStatus, ManualClock, OperationStatus
from redwood.aws.http import routes
from redwood.aws.remote import Gateway


def test_state_is_paged_into_the_sdk(aws_app: App, clock: ManualClock) -> None:
    seen: list[int] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> int:
        total = sum(context.step(lambda _, i=i: i, name=f"n{i}") for i in range(7))
        context.wait(Duration.from_seconds(1))
        return total

    def spy(event: Any, context: Any) -> Any:
        state = event.initial_execution_state
        seen.append(len(state.operations) if state.next_marker else -1)
        return handler(event, context)

    redwood.aws.register(aws_app, spy, name="paged", page_size=3)
    handle = run(aws_app, "paged", None, "paged-1")
    clock.advance(1)
    drain(aws_app)
    assert handle.result(timeout=5) == 21
    # The second invocation got 3 of its 9 operations inline and paged the rest in.
    assert seen == [-1, 3]


def test_stale_or_foreign_tokens_are_refused_and_nothing_changes(aws_app: App) -> None:
    refusals: list[tuple[str, bool]] = []

    def handler(event: Any, context: Any) -> Any:
        client = event.service_client
        token = event.checkpoint_token
        step = aws.OperationUpdate(operation_id="s1", operation_type=aws.OperationType.STEP,
                                   action=aws.OperationAction.SUCCEED, name="s", payload="1")
        fresh = client.checkpoint(event.durable_execution_arn, token, [step], None)
        for bad in (token, "bm90LWEtdG9rZW4=", "%%%"):
            with pytest.raises(CheckpointError) as refused:
                client.checkpoint(event.durable_execution_arn, bad, [step], None)
            refusals.append((str(refused.value), refused.value.is_retryable()))
        assert fresh.checkpoint_token is not None
        return {"Status": "SUCCEEDED", "Result": "1"}

    redwood.aws.register(aws_app, handler, name="tokens")
    handle = run(aws_app, "tokens", None, "tokens-1")
    assert handle.result(timeout=5) == 1
    assert refusals[0][0].startswith("Invalid checkpoint token") and refusals[0][1]
    assert all(message.startswith("Invalid checkpoint token") for message, _ in refusals)
    [op] = handle.operations()
    assert (op.id, op.status, op.attempt) == ("s1", OperationStatus.SUCCEEDED, 1)


def test_oversized_payload_fails_the_execution_with_a_clear_error(db_path: Any,
                                                                  clock: ManualClock) -> None:
    app = App(db_path, clock=clock, max_payload_bytes=1000)

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        return context.step(lambda _: "z" * 5000, name="big")

    redwood.aws.register(app, handler, name="oversized")
    handle = run(app, "oversized", None, "oversized-1")
    assert handle.status() is ExecutionStatus.FAILED
    error = app.client.get("oversized-1").error
    assert error is not None and "above the limit of 1000" in error.message
    app.close()


def test_instrumentation_plugins_see_invocations_and_operations(aws_app: App,
                                                                clock: ManualClock) -> None:
    seen: list[str] = []

    class Recorder(DurableInstrumentationPlugin):
        def on_invocation_start(self, info: InvocationStartInfo) -> None:
            seen.append(f"start first={info.is_first_invocation}")

        def on_operation_end(self, info: OperationEndInfo) -> None:
            seen.append(f"end {info.name} {info.status.value}")

        def on_invocation_end(self, info: InvocationEndInfo) -> None:
            seen.append(f"end invocation {info.status.value}")

    class Factory:
        def create_plugin(self, info: InvocationStartInfo) -> DurableInstrumentationPlugin:
            return Recorder()

    @durable_execution(plugins=[Factory()])
    def handler(event: Any, context: DurableContext) -> str:
        context.step(lambda _: "a", name="first")
        context.wait(Duration.from_seconds(2), name="nap")
        return "done"

    redwood.aws.register(aws_app, handler, name="plugged")
    handle = run(aws_app, "plugged", None, "plugged-1")
    clock.advance(2)
    drain(aws_app)
    assert handle.result(timeout=5) == "done"
    assert seen[0] == "start first=True" and "end first SUCCEEDED" in seen
    assert seen[seen.index("end invocation PENDING") + 1] == "start first=False"
    assert "end nap SUCCEEDED" in seen and seen[-1] == "end invocation SUCCEEDED"


def test_data_plane_over_http_checkpoints_pages_and_refuses_stale_tokens(app: App) -> None:
    gateway = Gateway(app)
    http = TestClient(Starlette(routes=routes(gateway)))
    answers: dict[str, Any] = {}

    def invoker(function: str, envelope: dict[str, Any]) -> Any:
        # Stands in for a handler in another process: raw REST calls, as botocore makes them.
        arn = quote(envelope["DurableExecutionArn"], safe="")
        token = envelope["CheckpointToken"]
        update = {"Id": "op-1", "Type": "STEP", "Action": "SUCCEED", "Name": "raw",
                  "SubType": "Step", "Payload": "42"}
        ok = http.post(f"/2025-12-01/durable-executions/{arn}/checkpoint",
                       json={"CheckpointToken": token, "Updates": [update]})
        stale = http.post(f"/2025-12-01/durable-executions/{arn}/checkpoint",
                          json={"CheckpointToken": token, "Updates": [update]})
        page = http.get(f"/2025-12-01/durable-executions/{arn}/state",
                        params={"CheckpointToken": ok.json()["CheckpointToken"],
                                "Marker": "1", "MaxItems": "5"})
        answers.update(ok=ok.json(), stale=(stale.status_code, stale.headers["x-amzn-ErrorType"],
                                            stale.json()["message"]), page=page.json())
        return {"Status": "SUCCEEDED", "Result": json.dumps(page.json()["Operations"][0]["Id"])}

    gateway.register_remote("raw", "http://unused.invalid", invoker=invoker)
    handle = run(app, "raw", None, "raw-1")
    assert handle.result(timeout=5) == "op-1"
    [changed] = answers["ok"]["NewExecutionState"]["Operations"]
    assert (changed["Id"], changed["Status"], changed["StepDetails"]) == (
        "op-1", "SUCCEEDED", {"Attempt": 1, "Result": "42"})
    status, code, message = answers["stale"]
    assert (status, code) == (400, "InvalidParameterValueException")
    assert message.startswith("Invalid checkpoint token")
    assert [op["Id"] for op in answers["page"]["Operations"]] == ["op-1"]
    # Nothing runs there any more: a late checkpoint is refused, never applied.
    arn = quote(redwood.aws.execution_arn("raw-1", "raw"), safe="")
    late = http.post(f"/2025-12-01/durable-executions/{arn}/checkpoint",
                     json={"CheckpointToken": "MS4x", "Updates": []})
    assert late.status_code == 400 and late.json()["message"].startswith("Invalid checkpoint")


def test_callback_api_over_http_answers_and_refuses(aws_app: App, clock: ManualClock) -> None:
    http = TestClient(Starlette(routes=routes(Gateway(aws_app))))

    @durable_execution
    def handler(event: Any, context: DurableContext) -> list[str]:
        outcomes = []
        for name in ("ok", "bad", "late"):
            callback = context.create_callback(name=name, config=CallbackConfig(
                timeout=Duration.from_seconds(60)))
            try:
                outcomes.append(str(callback.result()))
            except CallbackError as error:
                outcomes.append(f"{type(error).__name__}: {error.message} {error.data}")
        return outcomes

    redwood.aws.register(aws_app, handler, name="cb-http")
    handle = run(aws_app, "cb-http", None, "cb-http-1")

    def waiting_id() -> str:
        [op] = [o for o in handle.operations() if o.status is OperationStatus.STARTED]
        return str(op.details["callback_id"])

    base = "/2025-12-01/durable-execution-callbacks"
    assert http.post(f"{base}/{waiting_id()}/heartbeat").status_code == 200
    assert http.post(f"{base}/{waiting_id()}/succeed", content=b"raw bytes").status_code == 200
    drain(aws_app)
    failed = http.post(f"{base}/{waiting_id()}/fail",
                       json={"ErrorMessage": "nope", "ErrorType": "Declined",
                             "ErrorData": '{"code": 7}', "StackTrace": ["a", "b"]})
    assert failed.status_code == 200
    drain(aws_app)
    late = waiting_id()
    clock.advance(61)
    refused = http.post(f"{base}/{late}/succeed", content=b"too late")
    assert (refused.status_code, refused.headers["x-amzn-ErrorType"]) == (
        400, "CallbackTimeoutException")
    missing = http.post(f"{base}/no-such-callback/succeed", content=b"x")
    assert (missing.status_code, missing.headers["x-amzn-ErrorType"]) == (
        404, "ResourceNotFoundException")
    drain(aws_app)
    assert handle.result(timeout=5) == [
        "raw bytes", 'CallbackExternalError: nope {"code": 7}',
        "CallbackTimeoutError: Callback timed out None"]

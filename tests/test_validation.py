"""Bad input gets a clear typed error naming the thing and the fix; nothing recorded is lost."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pydantic
import pytest

from redwood import (
    App,
    DurableContext,
    ExecutionStatus,
    ManualClock,
    OperationStatus,
    PayloadTooLarge,
    RetryPolicy,
    SerializationError,
    UnknownExecution,
    UnknownFunction,
    ValidationError,
)


class Order(pydantic.BaseModel):
    sku: str
    quantity: int


def _keeps_first_step(app: App, second: Any) -> Any:
    """A function whose first step succeeds and whose second step returns ``second()``."""
    runs: Counter[str] = Counter()

    def first() -> str:
        runs["first"] += 1
        return "kept"

    def produce() -> Any:
        runs["produce"] += 1
        return second()

    @app.function
    def f(ctx: DurableContext) -> Any:
        ctx.step(first)
        return ctx.step(produce)

    return f, runs


def test_unknown_function_name_is_refused_and_names_the_known_ones(app: App) -> None:
    @app.function
    def known(ctx: DurableContext) -> None:
        return None

    with pytest.raises(UnknownFunction) as raised:
        app.start("unknown", id="x")
    assert raised.value.function == "unknown"
    assert 'No durable function named "unknown"' in str(raised.value)
    assert "known: known" in str(raised.value)
    assert app.client.list() == []


def test_non_serializable_step_result_fails_the_step_at_once(any_app: App) -> None:
    f, runs = _keeps_first_step(any_app, lambda: {"when": object()})
    handle = any_app.start(f, id="not-json")
    any_app.worker().drain()
    assert runs == {"first": 1, "produce": 1}  # not retried, though the default policy retries
    assert handle.status() is ExecutionStatus.FAILED
    first, second = handle.operations()
    assert (first.status, first.result) == (OperationStatus.SUCCEEDED, '"kept"')
    assert second.status is OperationStatus.FAILED and second.attempt == 1
    assert second.error is not None
    assert second.error.type == "redwood.errors.SerializationError"
    assert 'the result of step "produce" (operation #2)' in second.error.message
    assert "'dict'" in second.error.message or "'object'" in second.error.message
    execution = handle.get()
    assert execution.error is not None and 'Step "produce"' in execution.error.message


def test_oversized_step_result_fails_without_retrying(db_path: Path, clock: ManualClock) -> None:
    with App(db_path, clock=clock, max_payload_bytes=1000) as app:
        f, runs = _keeps_first_step(app, lambda: "x" * 5000)
        handle = app.start(f, id="too-big")
        worker = app.worker()
        worker.drain()
        clock.advance(3600)
        assert worker.drain() == 0
        assert runs == {"first": 1, "produce": 1}
        assert handle.status() is ExecutionStatus.FAILED
        second = handle.operations()[1]
        assert second.error is not None and second.error.type == "redwood.errors.PayloadTooLarge"
        assert "5002 bytes" in second.error.message and "1000 bytes" in second.error.message
        assert handle.operations()[0].result == '"kept"'


def test_oversized_input_is_refused_at_start(db_path: Path, clock: ManualClock) -> None:
    with App(db_path, clock=clock, max_payload_bytes=100) as app:

        @app.function
        def f(ctx: DurableContext, text: str) -> str:
            return text

        with pytest.raises(PayloadTooLarge, match='the input of execution "big"') as raised:
            app.start(f, "y" * 200, id="big")
        assert (raised.value.size, raised.value.limit) == (202, 100)
        with pytest.raises(UnknownExecution):
            app.client.get("big")


def test_oversized_execution_result_fails_the_execution_and_keeps_its_steps(
    db_path: Path, clock: ManualClock
) -> None:
    with App(db_path, clock=clock, max_payload_bytes=100) as app:

        def small() -> str:
            return "ok"

        @app.function
        def f(ctx: DurableContext) -> str:
            return ctx.step(small) * 100

        handle = app.start(f, id="big-result")
        app.worker().drain()
        execution = handle.get()
        assert execution.status is ExecutionStatus.FAILED
        assert execution.error is not None
        assert execution.error.type == "redwood.errors.PayloadTooLarge"
        assert 'the result of execution "big-result"' in execution.error.message
        assert handle.operations()[0].result == '"ok"'


def test_non_serializable_execution_result_fails_the_execution(any_app: App) -> None:
    def one() -> int:
        return 1

    @any_app.function
    def f(ctx: DurableContext) -> object:
        ctx.step(one)
        return object()

    handle = any_app.start(f, id="odd-result")
    any_app.worker().drain()
    execution = handle.get()
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error is not None
    assert execution.error.type == "redwood.errors.SerializationError"
    assert 'the result of execution "odd-result"' in execution.error.message
    assert handle.operations()[0].result == "1"


def test_non_serializable_input_is_refused_at_start(app: App) -> None:
    @app.function
    def f(ctx: DurableContext, anything: Any) -> None:
        return None

    with pytest.raises(SerializationError, match="the input of execution \"odd\"") as raised:
        app.start(f, {"when": object()}, id="odd")
    assert raised.value.value_type == "dict"
    assert app.client.list() == []


@pytest.mark.parametrize("bad_id", ["", "has space", "tab\there", "new\nline", "x" * 257, 42])
def test_invalid_execution_id_is_refused(app: App, bad_id: Any) -> None:
    @app.function
    def f(ctx: DurableContext) -> None:
        return None

    with pytest.raises(ValidationError, match="Invalid execution id") as raised:
        app.start(f, id=bad_id)
    assert raised.value.execution_id == bad_id
    assert app.client.list() == []


def test_input_that_does_not_fit_the_declared_model_is_refused_at_start(app: App) -> None:
    @app.function
    def place(ctx: DurableContext, order: Order) -> int:
        return order.quantity

    with pytest.raises(ValidationError) as raised:
        app.start(place, {"sku": "a-1", "quantity": "lots"}, id="bad-order")
    message = str(raised.value)
    assert '"place"' in message and "Order" in message and "quantity" in message
    assert app.client.list() == []
    good = app.start(place, {"sku": "a-1", "quantity": "3"}, id="good-order")
    app.worker().drain()
    assert good.result(timeout=5) == 3


def test_async_step_body_in_a_sync_function_is_refused_without_retry(any_app: App) -> None:
    async def fetch() -> str:
        return "never"

    @any_app.function
    def f(ctx: DurableContext) -> None:
        ctx.step(fetch)  # type: ignore[arg-type]

    handle = any_app.start(f, id="async-in-sync")
    any_app.worker().drain()
    (op,) = handle.operations()
    assert op.status is OperationStatus.FAILED and op.attempt == 1
    assert op.error is not None and "Make the durable function `async def`" in op.error.message


def test_durable_function_signature_is_checked_at_registration(app: App) -> None:
    with pytest.raises(ValidationError, match="at most one input"):

        @app.function
        def two_inputs(ctx: DurableContext, a: int, b: int) -> None:
            return None

    with pytest.raises(ValidationError, match="context first"):
        app.function(lambda: None, name="no-context")


def test_two_functions_cannot_share_a_name(app: App) -> None:
    @app.function(name="same")
    def one(ctx: DurableContext) -> None:
        return None

    with pytest.raises(ValidationError, match='"same" is already registered'):

        @app.function(name="same")
        def two(ctx: DurableContext) -> None:
            return None


@pytest.mark.parametrize(("arguments", "field"), [
    ({"max_payload_bytes": 0}, "max_payload_bytes"),
    ({"lease_seconds": 0}, "lease_seconds"),
    ({"lease_seconds": -3}, "lease_seconds"),
])
def test_invalid_app_settings_are_refused(
    db_path: Path, arguments: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError, match=field):
        App(db_path, **arguments)


def test_unsupported_database_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="Unsupported database URL"):
        App("mysql://localhost/db")


def test_invalid_retry_policy_argument_fails_in_the_callers_code(any_app: App) -> None:
    errors: list[ValidationError] = []

    def fail() -> None:
        raise RuntimeError("x")

    @any_app.function
    def f(ctx: DurableContext) -> None:
        try:
            ctx.step(fail, retry=RetryPolicy(max_attempts=-1))
        except ValidationError as error:
            errors.append(error)
            raise

    handle = any_app.start(f, id="bad-policy")
    any_app.worker().drain()
    (error,) = errors
    assert "max_attempts" in str(error)
    assert handle.operations() == []
    assert handle.status() is ExecutionStatus.FAILED


def test_input_for_a_function_without_input_is_refused_and_nothing_is_recorded(app: App) -> None:
    @app.function
    def no_input(ctx: DurableContext) -> int:
        return 1

    with pytest.raises(ValidationError, match="takes no input"):
        app.start(no_input, {"unexpected": True}, id="no-input-1")
    assert app.client.list() == []


def test_a_huge_error_message_is_recorded_clipped(app: App) -> None:
    def explode() -> None:
        raise RuntimeError("x" * 200_000)

    @app.function
    def fails(ctx: DurableContext) -> None:
        ctx.step(explode, retry=RetryPolicy.none())

    handle = app.start(fails, id="huge-error")
    app.worker().drain()
    execution = app.client.get(handle.id)
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error is not None
    assert "characters cut" in execution.error.message
    assert len(execution.error.message) < 40_000

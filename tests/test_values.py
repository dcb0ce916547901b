"""Deterministic helpers (now, random, uuid4), ctx.patched, and the replay-aware logger."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest

from redwood import App, DurableContext, ManualClock, OperationStatus, OperationType

pytestmark = pytest.mark.every_store


def test_now_random_and_uuid4_replay_identically(any_app: App, clock: ManualClock) -> None:
    seen: list[tuple[float, float, uuid.UUID]] = []

    @any_app.function
    def f(ctx: DurableContext) -> list[Any]:
        values = (ctx.now(), ctx.random(), ctx.uuid4())
        seen.append(values)
        ctx.wait(60)
        return [values[0], values[1], str(values[2])]

    started_at = clock.now()
    handle = any_app.start(f, id="values")
    worker = any_app.worker()
    worker.drain()
    clock.advance(60)
    worker.drain()
    assert len(seen) == 2 and seen[0] == seen[1]
    now, number, identifier = seen[0]
    assert now == started_at
    assert 0.0 <= number < 1.0
    assert identifier.version == 4
    assert handle.result(timeout=5) == [now, number, str(identifier)]
    subtypes = [(op.type, op.subtype) for op in handle.operations()[:3]]
    assert subtypes == [(OperationType.STEP, "now"), (OperationType.STEP, "random"),
                        (OperationType.STEP, "uuid4")]


def test_each_call_draws_a_new_value(any_app: App) -> None:
    @any_app.function
    def f(ctx: DurableContext) -> list[str]:
        return [str(ctx.uuid4()) for _ in range(3)]

    handle = any_app.start(f, id="uuids")
    any_app.worker().drain()
    assert len(set(handle.result(timeout=5))) == 3


def _versioned(app: App, version: dict[str, int], paths: list[str]) -> Any:
    def old_path() -> str:
        return "old"

    def new_path() -> str:
        return "new"

    @app.function
    def f(ctx: DurableContext) -> str:
        ctx.wait(10)
        if version["v"] >= 2 and ctx.patched("new-pricing"):
            chosen = ctx.step(new_path)
        else:
            chosen = ctx.step(old_path)
        paths.append(chosen)
        ctx.wait(10)
        return chosen

    return f


def test_patched_takes_the_new_path_for_new_executions(any_app: App, clock: ManualClock) -> None:
    version = {"v": 2}
    paths: list[str] = []
    handle = any_app.start(_versioned(any_app, version, paths), id="new")
    worker = any_app.worker()
    for _ in range(3):
        worker.drain()
        clock.advance(10)
    assert handle.result(timeout=5) == "new"
    patch = handle.operations()[1]
    assert (patch.type, patch.subtype, patch.name) == (OperationType.STEP, "Patch", "new-pricing")
    assert set(paths) == {"new"}


def test_execution_recorded_before_the_patch_keeps_the_old_path(
    any_app: App, clock: ManualClock
) -> None:
    version = {"v": 1}
    paths: list[str] = []
    handle = any_app.start(_versioned(any_app, version, paths), id="old")
    worker = any_app.worker()
    worker.drain()
    clock.advance(10)
    worker.drain()  # the old code recorded the old step
    version["v"] = 2  # the patch is deployed while the execution waits
    clock.advance(10)
    worker.drain()
    assert handle.result(timeout=5) == "old"
    assert set(paths) == {"old"}
    assert all(op.subtype != "Patch" for op in handle.operations())


def test_execution_that_had_not_reached_the_patch_takes_the_new_path(
    any_app: App, clock: ManualClock
) -> None:
    version = {"v": 1}
    paths: list[str] = []
    handle = any_app.start(_versioned(any_app, version, paths), id="midway")
    any_app.worker().drain()  # waiting in the first wait, before the patched code
    version["v"] = 2
    worker = any_app.worker()
    for _ in range(2):
        clock.advance(10)
        worker.drain()
    assert handle.result(timeout=5) == "new"


def test_logger_stays_silent_while_replaying(
    any_app: App, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    def reserve() -> str:
        return "reserved"

    @any_app.function
    def f(ctx: DurableContext) -> None:
        ctx.logger.info("before the step")
        ctx.step(reserve)
        ctx.logger.info("between step and wait")
        ctx.wait(30)
        ctx.logger.info("after the wait")

    caplog.set_level(logging.INFO, logger="redwood.execution")
    handle = any_app.start(f, id="logs")
    worker = any_app.worker()
    worker.drain()
    clock.advance(30)
    worker.drain()
    assert handle.result(timeout=5) is None
    messages = [r.getMessage() for r in caplog.records if r.name == "redwood.execution"]
    assert messages == ["before the step", "between step and wait", "after the wait"]
    assert {r.execution_id for r in caplog.records if r.name == "redwood.execution"} == {"logs"}


def test_is_replaying_is_true_only_before_the_first_new_operation(
    app: App, clock: ManualClock
) -> None:
    observed: list[tuple[str, bool]] = []

    def noop() -> None:
        return None

    @app.function
    def f(ctx: DurableContext) -> None:
        observed.append(("start", ctx.is_replaying))
        ctx.step(noop)
        observed.append(("after step", ctx.is_replaying))
        ctx.wait(5)
        observed.append(("after wait", ctx.is_replaying))

    app.start(f, id="replaying")
    worker = app.worker()
    worker.drain()
    clock.advance(5)
    worker.drain()
    assert observed == [("start", False), ("after step", False),
                        ("start", True), ("after step", True), ("after wait", False)]


def test_values_are_recorded_as_succeeded_steps(any_app: App) -> None:
    @any_app.function
    def f(ctx: DurableContext) -> float:
        return ctx.random()

    handle = any_app.start(f, id="recorded")
    any_app.worker().drain()
    (op,) = handle.operations()
    assert op.status is OperationStatus.SUCCEEDED
    assert op.result is not None and float(op.result) == handle.result(timeout=5)

"""Blocked-on: what a running execution waits for, and since when, for every kind of wait."""

from __future__ import annotations

import threading
from typing import Any

import click
import pytest
from click.testing import CliRunner

from conftest import wait_until
from redwood import App, DurableContext, ManualClock, RetryPolicy, StepSemantics
from redwood.cli.blocked import blocked_on_option, describe
from redwood.engine.blocked import recorded_wait
from redwood.model import Operation
from redwood.store.base import JournalWrite
from redwood.types import BlockedKind, OperationStatus, OperationType

pytestmark = pytest.mark.every_store


@pytest.fixture
def napper(app: App) -> Any:
    @app.function
    def napper(ctx: DurableContext) -> str:
        ctx.step(lambda: 1, name="prepare")
        ctx.wait(3600, name="nap")
        return "done"

    return napper


def kinds(app: App, **filters: Any) -> list[str]:
    return [e.id for e in app.client.list(**filters)]


def test_a_new_execution_is_ready_until_a_worker_claims_it(app: App, napper: Any,
                                                           clock: ManualClock) -> None:
    app.start(napper, id="n")
    clock.advance(5)
    [blocked] = app.client.blocked_on("n")
    assert blocked.kind is BlockedKind.READY and blocked.since == clock.now() - 5
    assert blocked.details["reason"] == "never claimed"
    assert kinds(app, blocked_on="ready") == ["n"]


def test_a_timer_is_blocked_on_until_its_end_and_recorded_at_release(
    app: App, napper: Any, clock: ManualClock
) -> None:
    app.start(napper, id="n")
    app.worker().drain()
    [blocked] = app.client.blocked_on("n")
    assert (blocked.kind, blocked.name, blocked.operation_id) == (BlockedKind.TIMER, "nap", "2")
    assert blocked.since == clock.now() and blocked.until == clock.now() + 3600
    assert app.client.get("n").blocked_on is BlockedKind.TIMER
    assert kinds(app, blocked_on="timer") == ["n"] and kinds(app, blocked_on="ready") == []
    clock.advance(3601)  # due but not claimed yet: ready, whatever was recorded
    assert app.client.blocked_on("n")[0].kind is BlockedKind.READY
    assert kinds(app, blocked_on="timer") == [] and kinds(app, blocked_on="ready") == ["n"]
    app.worker().drain()
    assert app.client.blocked_on("n") == [] and app.client.get("n").blocked_on is None


def test_a_retry_back_off_shows_the_last_error_and_the_next_attempt(
    app: App, clock: ManualClock
) -> None:
    @app.function
    def flaky(ctx: DurableContext) -> None:
        ctx.step(_unreachable, name="call_partner",
                 retry=RetryPolicy(max_attempts=3, initial_delay=30, jitter=0))

    app.start(flaky, id="f")
    app.worker().drain()
    [blocked] = app.client.blocked_on("f")
    assert blocked.kind is BlockedKind.RETRY and blocked.name == "call_partner"
    assert blocked.attempt == 2 and blocked.until == clock.now() + 30
    assert blocked.since == clock.now()  # the failed attempt's invocation ended now
    assert blocked.details["last_error"]["message"] == "partner down"
    assert kinds(app, blocked_on="retry") == ["f"]
    line = describe(app.client.blocked_on("f"), clock.now())[0]
    assert line.startswith('retry, operation #1 "call_partner", attempt 2')
    assert "last error builtins.TimeoutError: partner down" in line


def _unreachable() -> None:
    raise TimeoutError("partner down")


def test_a_claimed_execution_is_running_on_its_worker(app: App, napper: Any,
                                                      clock: ManualClock) -> None:
    app.start(napper, id="n")
    [claim] = app.store.claim("worker-a", clock.now(), 30.0, 10)
    clock.advance(3)
    [blocked] = app.client.blocked_on("n")
    assert blocked.kind is BlockedKind.RUNNING and blocked.details["worker"] == "worker-a"
    assert blocked.since == claim.execution.created_at
    assert kinds(app, blocked_on="running") == ["n"]


def test_a_dead_workers_expired_lease_is_shown_until_another_worker_claims(
    app: App, napper: Any, clock: ManualClock
) -> None:
    app.start(napper, id="n")
    app.store.claim("dead-worker", clock.now(), 30.0, 10)  # ...and the worker is never heard of
    clock.advance(31)
    [blocked] = app.client.blocked_on("n")
    assert blocked.kind is BlockedKind.LEASE_EXPIRED
    assert blocked.details["worker"] == "dead-worker" and blocked.since == clock.now() - 1
    assert kinds(app, blocked_on="lease_expired") == ["n"]
    assert kinds(app, blocked_on="running") == [] and kinds(app, blocked_on="ready") == []
    app.worker().drain()  # another worker takes over and replays
    assert app.client.blocked_on("n")[0].kind is BlockedKind.TIMER


def test_a_running_at_most_once_step_is_named_with_its_attempt(app: App,
                                                              clock: ManualClock) -> None:
    inside = threading.Event()
    release = threading.Event()

    def charge_card() -> str:
        inside.set()
        release.wait(10)
        return "charged"

    @app.function
    def pay(ctx: DurableContext) -> str:
        ctx.step(lambda: "ok", name="validate")
        return ctx.step(charge_card, name="charge_card",
                        semantics=StepSemantics.AT_MOST_ONCE_PER_RETRY)

    with app.run_worker(concurrency=1):
        handle = app.start(pay, id="p")
        wait_until(inside.is_set, what="the step body to run")
        [blocked] = app.client.blocked_on("p")
        assert (blocked.kind, blocked.name, blocked.attempt) == (BlockedKind.RUNNING,
                                                                 "charge_card", 1)
        assert blocked.operation_id == "2" and blocked.since == clock.now()
        release.set()
        assert handle.result(timeout=10) == "charged"
    assert app.client.blocked_on("p") == []


def test_a_running_at_least_once_step_runs_after_the_last_recorded_operation(
    app: App, clock: ManualClock
) -> None:
    inside = threading.Event()
    release = threading.Event()

    def slow() -> int:
        inside.set()
        release.wait(10)
        return 2

    @app.function
    def work(ctx: DurableContext) -> int:
        first = ctx.step(lambda: 1, name="first")
        clock.advance(2)
        return first + ctx.step(slow, name="slow")

    with app.run_worker(concurrency=1):
        handle = app.start(work, id="w")
        wait_until(inside.is_set, what="the slow step to start")
        [blocked] = app.client.blocked_on("w")
        assert blocked.kind is BlockedKind.RUNNING and blocked.operation_id is None
        assert blocked.details["after_operation"] == "1"
        release.set()
        assert handle.result(timeout=10) == 3


# --- waits on the outside world, in the operation representation of the briefing's contract -----


def _released_with(app: App, execution_id: str, clock: ManualClock, *ops: Operation) -> None:
    [claim] = app.store.claim("worker-a", clock.now(), 30.0, 10)
    app.store.commit(JournalWrite(execution_id, claim.lease_token, clock.now(), operations=ops,
                                  release=True, ready_at=None, blocked_on=recorded_wait(ops)))


def _op(op_id: str, op_type: OperationType, subtype: str | None, name: str | None,
        started_at: float, **extra: Any) -> Operation:
    return Operation(id=op_id, parent_id=None, type=op_type, subtype=subtype, name=name,
                     status=OperationStatus.STARTED, attempt=1, started_at=started_at, **extra)


def test_a_callback_shows_its_id_timeout_and_last_heartbeat(app: App, napper: Any,
                                                            clock: ManualClock) -> None:
    app.start(napper, id="c")
    now = clock.now()
    callback = _op("1", OperationType.CALLBACK, None, "approval", now, due_at=now + 300,
                   details={"callback_id": "Zq3-secret", "timeout_at": now + 3600,
                            "heartbeat_timeout": 300, "last_heartbeat_at": now})
    _released_with(app, "c", clock, callback)
    clock.advance(10)
    [blocked] = app.client.blocked_on("c")
    assert (blocked.kind, blocked.name, blocked.since) == (BlockedKind.CALLBACK, "approval", now)
    assert blocked.until == now + 3600
    assert blocked.details == {"callback_id": "Zq3-secret", "timeout_at": now + 3600,
                               "heartbeat_timeout": 300, "last_heartbeat_at": now,
                               "deadline_at": now + 300}
    assert kinds(app, blocked_on="callback") == ["c"] and kinds(app, blocked_on="timer") == []


def test_an_event_wait_shows_the_event_name_and_timeout(app: App, napper: Any,
                                                        clock: ManualClock) -> None:
    app.start(napper, id="e")
    now = clock.now()
    wait = _op("1", OperationType.CALLBACK, "WaitForEvent", "shipped", now,
               details={"event": "shipped", "timeout_at": now + 86400})
    _released_with(app, "e", clock, wait)
    [blocked] = app.client.blocked_on("e")
    assert blocked.kind is BlockedKind.EVENT and blocked.until == now + 86400
    assert blocked.details == {"event": "shipped", "timeout_at": now + 86400}
    assert kinds(app, blocked_on="event") == ["e"]


def test_child_executions_are_shown_with_their_state(app: App, napper: Any,
                                                     clock: ManualClock) -> None:
    app.start(napper, id="child")
    app.worker().drain()
    app.start(napper, id="parent")
    invoke = _op("1", OperationType.CHAINED_INVOKE, None, "ship", clock.now(),
                 details={"child_execution_id": "child"})
    _released_with(app, "parent", clock, invoke)
    [blocked] = app.client.blocked_on("parent")
    assert blocked.kind is BlockedKind.CHILDREN
    assert blocked.details == {"child_execution_id": "child", "child_status": "RUNNING",
                               "child_function": "napper"}
    assert kinds(app, blocked_on="children") == ["parent"]


def test_parallel_waits_name_the_outside_world_first(app: App, napper: Any,
                                                     clock: ManualClock) -> None:
    app.start(napper, id="both")
    now = clock.now()
    timer = _op("1-1", OperationType.WAIT, None, "reminder", now, due_at=now + 60)
    event = _op("1-2", OperationType.CALLBACK, "WaitForEvent", "approved", now + 1,
                details={"event": "approved", "timeout_at": None})
    _released_with(app, "both", clock, timer, event)
    assert [b.kind for b in app.client.blocked_on("both")] == [BlockedKind.EVENT,
                                                                BlockedKind.TIMER]
    assert app.client.get("both").blocked_on is BlockedKind.EVENT


def test_the_cli_option_accepts_every_kind_and_nothing_else() -> None:
    @click.command()
    @blocked_on_option
    def show(blocked_on: str | None) -> None:
        click.echo(f"kind={blocked_on}")

    assert CliRunner().invoke(show, ["--blocked-on", "lease_expired"]).output == \
        "kind=lease_expired\n"
    refused = CliRunner().invoke(show, ["--blocked-on", "lunch"])
    assert refused.exit_code == 2 and "callback" in refused.output

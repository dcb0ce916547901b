"""Whole executions on PostgreSQL through App("postgresql://..."): steps, waits, retries, wake-ups
across stores, and what a broken connection mid-invocation may (not) write."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace

import psycopg
import pytest

from conftest import wait_until
from redwood import App, DurableContext, ExecutionStatus, ManualClock, RetryPolicy
from redwood.errors import LeaseLost
from redwood.model import RESULT_FROM_EXECUTION, RESULT_FROM_OPERATION, NewEvent, Operation
from redwood.store.base import JournalWrite, NewExecution, Outcome
from redwood.store.postgres import PostgresStore
from redwood.types import OperationStatus, OperationType

LEASE = 30.0


@pytest.fixture
def pg_app(postgres_url: str, clock: ManualClock) -> Iterator[App]:
    application = App(postgres_url, clock=clock, lease_seconds=LEASE)
    yield application
    application.close()


def event_types(app: App, execution_id: str) -> list[str]:
    return [event.type for event in app.client.history(execution_id)]


def test_app_opens_a_postgres_store_from_the_url(pg_app: App) -> None:
    assert isinstance(pg_app.store, PostgresStore)


def test_app_opens_the_store_named_by_the_environment(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDWOOD_DATABASE_URL", postgres_url)
    with App() as app:
        assert isinstance(app.store, PostgresStore)


def test_steps_run_once_and_replay_from_the_journal(pg_app: App) -> None:
    runs: list[int] = []

    def add(a: int, b: int) -> int:
        runs.append(a)
        return a + b

    @pg_app.function
    def total(ctx: DurableContext, n: int) -> int:
        return sum(ctx.step(add, i, n) for i in range(3))

    handle = pg_app.start(total, 10, id="total-1")
    assert pg_app.start(total, 10, id="total-1").created is False
    pg_app.worker().drain()
    assert handle.result(timeout=5) == 33
    assert runs == [0, 1, 2]
    types = event_types(pg_app, "total-1")
    assert types.count("StepSucceeded") == 3 and types[-1] == "ExecutionSucceeded"


def test_wait_suspends_until_the_clock_reaches_its_end(pg_app: App, clock: ManualClock) -> None:
    @pg_app.function
    def nap(ctx: DurableContext) -> str:
        ctx.wait(60)
        return "rested"

    handle = pg_app.start(nap, id="nap-1")
    worker = pg_app.worker()
    worker.drain()
    assert handle.status() is ExecutionStatus.RUNNING
    assert pg_app.store.next_ready_at() == clock.now() + 60
    clock.advance(59)
    assert worker.drain() == 0
    clock.advance(1)
    worker.drain()
    assert handle.result(timeout=5) == "rested"
    assert event_types(pg_app, "nap-1").count("WaitSucceeded") == 1


def test_failed_step_is_retried_after_its_back_off(pg_app: App, clock: ManualClock) -> None:
    attempts: list[int] = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "done"

    retry = RetryPolicy(max_attempts=5, initial_delay=10, max_delay=10, jitter=0)

    @pg_app.function
    def job(ctx: DurableContext) -> str:
        return ctx.step(flaky, retry=retry)

    handle = pg_app.start(job, id="job-1")
    worker = pg_app.worker()
    for _ in range(2):
        worker.drain()
        assert handle.status() is ExecutionStatus.RUNNING
        clock.advance(10)
    worker.drain()
    assert handle.result(timeout=5) == "done"
    assert len(attempts) == 3
    assert event_types(pg_app, "job-1").count("StepFailed") == 2


def test_running_worker_wakes_on_a_start_from_another_process_store(postgres_url: str) -> None:
    # Two apps, two stores, two sets of connections: only LISTEN/NOTIFY connects them.
    with App(postgres_url) as workers_app, App(postgres_url) as client_app:
        for application in (workers_app, client_app):
            @application.function
            def echo(ctx: DurableContext, text: str) -> str:
                return ctx.step(str.upper, text)
        with workers_app.run_worker():
            handle = client_app.start("echo", "hi", id="echo-1")
            assert handle.result(timeout=10) == "HI"


def test_a_write_lost_with_its_connection_is_never_followed_by_another(
    pg_app: App, postgres_url: str, clock: ManualClock
) -> None:
    """The connection dies while a checkpoint waits; user code swallows the error and returns.
    Nothing more of that invocation may be written: the next holder finishes the execution."""
    in_step, locked = threading.Event(), threading.Event()

    def one() -> int:
        if not locked.is_set():
            in_step.set()
            assert locked.wait(10)
        return 1

    @pg_app.function
    def fragile(ctx: DurableContext) -> str:
        first = ctx.step(one)
        try:
            second = ctx.step(lambda: 2, name="two")
        except Exception:
            return "swallowed"
        return f"{first + second}"

    handle = pg_app.start(fragile, id="fragile-1")
    worker = pg_app.worker()
    failures: list[BaseException] = []

    def drain() -> None:
        try:
            worker.drain()
        except BaseException as error:
            failures.append(error)

    runner = threading.Thread(target=drain)
    with psycopg.connect(postgres_url) as blocker, psycopg.connect(postgres_url) as admin:
        runner.start()
        assert in_step.wait(10)
        # Hold the execution's row: the checkpoint after step "one" blocks in its lease check.
        blocker.execute("SELECT 1 FROM executions WHERE id = 'fragile-1' FOR UPDATE")
        locked.set()
        wait_until(lambda: admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()").fetchone() == (1,), what="a blocked checkpoint")
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()")
        runner.join(10)
        blocker.rollback()
    assert len(failures) == 1 and isinstance(failures[0], psycopg.OperationalError)
    assert handle.status() is ExecutionStatus.RUNNING
    assert "ExecutionSucceeded" not in event_types(pg_app, "fragile-1")
    clock.advance(LEASE)  # the lease lapses; another invocation replays
    worker.drain()
    assert handle.result(timeout=5) == "3"
    assert event_types(pg_app, "fragile-1").count("StepSucceeded") == 2


def test_checkpoints_go_on_after_the_server_closed_their_idle_connection(
    postgres_url: str,
) -> None:
    """The group commit keeps one connection between checkpoints; when the server closes it
    meanwhile (a restart, an idle timeout), the next checkpoint takes another instead of
    failing on the dead one."""
    step = Operation(id="1", parent_id=None, type=OperationType.STEP, subtype=None, name="s",
                     status=OperationStatus.SUCCEEDED, attempt=1, result="1")
    with closing(PostgresStore(postgres_url)) as store, \
            psycopg.connect(postgres_url, autocommit=True) as admin:
        store.create_execution(NewExecution(id="idle-1", function="f", input=None, now=1.0))
        token = store.claim("w", 2.0, LEASE, 1)[0].lease_token
        store.commit(JournalWrite("idle-1", token, 3.0, operations=(step,)))
        before = {row[0] for row in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")}
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        wait_until(lambda: not before & {row[0] for row in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")} - {
            admin.info.backend_pid}, what="the store's connections to close")
        store.commit(JournalWrite("idle-1", token, 4.0, operations=(
            replace(step, id="2", result="2"),), outcome=Outcome(ExecutionStatus.SUCCEEDED),
            alone=True))
        assert [op.result for op in store.operations("idle-1")] == ["1", "2"]


def test_checkpoints_queued_behind_a_slow_one_go_together_in_the_next_statement(
    postgres_url: str,
) -> None:
    """A checkpoint alone goes in a statement of its own; those that queue meanwhile share the
    grouped one, where a stale lease is refused alone and a checkpoint, a release and an ending
    each take effect."""
    step = Operation(id="1", parent_id=None, type=OperationType.STEP, subtype=None, name="s",
                     status=OperationStatus.SUCCEEDED, attempt=1, result="1")
    ids = ("slow", "step", "stale", "sleep", "end")
    with closing(PostgresStore(postgres_url)) as store, psycopg.connect(postgres_url) as blocker, \
            psycopg.connect(postgres_url, autocommit=True) as admin:
        for execution_id in ids:
            store.create_execution(NewExecution(id=execution_id, function="f", input=None,
                                                now=1.0))
        tokens = {claim.execution.id: claim.lease_token
                  for claim in store.claim("w", 2.0, LEASE, len(ids))}
        blocker.execute("SELECT 1 FROM executions WHERE id = 'slow' FOR UPDATE")
        slow = store.submit_commit(JournalWrite("slow", tokens["slow"], 3.0, operations=(step,)))
        wait_until(lambda: admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()").fetchone() == (1,), what="a blocked checkpoint")
        sent = store.transactions
        queued = {
            "step": store.submit_commit(JournalWrite("step", tokens["step"], 3.0,
                                                     operations=(step,))),
            "stale": store.submit_commit(JournalWrite("stale", tokens["stale"] - 1, 3.0,
                                                      operations=(step,))),
            "sleep": store.submit_commit(JournalWrite("sleep", tokens["sleep"], 3.0,
                                                      release=True, ready_at=60.0)),
            "end": store.submit_commit(JournalWrite(
                "end", tokens["end"], 3.0, operations=(step,), alone=True,
                events=(NewEvent(type="StepSucceeded", operation_id="1",
                                 result_from=RESULT_FROM_OPERATION),
                        NewEvent(type="ExecutionSucceeded", result_from=RESULT_FROM_EXECUTION)),
                outcome=Outcome(ExecutionStatus.SUCCEEDED, result='"r"'))),
        }
        blocker.rollback()
        assert slow.result(timeout=10).cancel_requested is False
        for execution_id in ("step", "sleep", "end"):
            assert queued[execution_id].result(timeout=10).cancel_requested is False
        with pytest.raises(LeaseLost):
            queued["stale"].result(timeout=10)
        # One grouped statement for the four, and the read that explains the refusal.
        assert store.transactions == sent + 2
        assert [op.id for op in store.operations("step")] == ["1"]
        assert store.operations("stale") == []
        sleeping, ended = store.get_execution("sleep"), store.get_execution("end")
        assert sleeping is not None and sleeping.ready_at == 60.0 and sleeping.lease_owner is None
        assert ended is not None and ended.status is ExecutionStatus.SUCCEEDED
        # The grouped statement keeps where each event's result is (its rows hold it once).
        assert [e.details for e in store.history("end")[1:]] == [{"result": "1"}, {"result": '"r"'}]


def test_an_execution_this_store_finished_reads_back_as_committed_without_a_query(
    postgres_url: str,
) -> None:
    with closing(PostgresStore(postgres_url)) as store, \
            closing(PostgresStore(postgres_url)) as other:
        store.create_execution(NewExecution(id="kept-1", function="f", input="[1]", now=1.0))
        token = store.claim("w", 2.0, LEASE, 1)[0].lease_token
        store.commit(JournalWrite("kept-1", token, 3.0, alone=True,
                                  outcome=Outcome(ExecutionStatus.SUCCEEDED, result='"r"')))
        sent = store.transactions
        kept = store.get_execution("kept-1")
        assert store.transactions == sent
        assert kept == other.get_execution("kept-1")
        assert kept is not None and kept.status is ExecutionStatus.SUCCEEDED and kept.result == '"r"'


def test_watchers_hear_which_execution_another_store_made_ready_or_finished(
    postgres_url: str,
) -> None:
    heard: list[tuple[str, bool]] = []
    with closing(PostgresStore(postgres_url)) as watcher, \
            closing(PostgresStore(postgres_url)) as writer:
        watcher.watch(lambda execution_id, ready: heard.append((execution_id, ready)))
        writer.create_execution(NewExecution(id="seen-1", function="f", input=None, now=1.0))
        wait_until(lambda: heard == [("seen-1", True)], what="the start to be heard")
        token = writer.claim("w", 2.0, LEASE, 1)[0].lease_token
        writer.commit(JournalWrite("seen-1", token, 3.0,
                                   outcome=Outcome(ExecutionStatus.SUCCEEDED)))
        # Ready work for workers first; then news of the finish, for result waiters only.
        wait_until(lambda: heard == [("seen-1", True), ("seen-1", False)],
                   what="the finish to be heard")


def test_a_finished_execution_is_news_for_result_waiters_but_not_for_idle_workers(
    postgres_url: str,
) -> None:
    with closing(PostgresStore(postgres_url)) as watcher, \
            closing(PostgresStore(postgres_url)) as writer:
        writer.create_execution(NewExecution(id="done-1", function="f", input=None, now=1.0))
        token = writer.claim("w", 2.0, LEASE, 1)[0].lease_token
        wait_until(lambda: watcher.ready_marker() > 0, what="the start to be heard")
        ready, changed = watcher.ready_marker(), watcher.change_marker()
        writer.commit(JournalWrite("done-1", token, 3.0,
                                   outcome=Outcome(ExecutionStatus.SUCCEEDED)))
        wait_until(lambda: watcher.change_marker() != changed, what="the finish to be heard")
        # The start made work ready (heard above); the finish only made it finished.
        assert watcher.ready_marker() == ready


def test_answers_events_and_child_endings_wake_a_worker_of_another_store(
    postgres_url: str,
) -> None:
    # The worker app hears of the callback answer, the event and the child's ending only through
    # LISTEN/NOTIFY: without a notification it would sleep until its renewal, lease/3 = 10 s.
    with App(postgres_url) as workers_app, App(postgres_url) as client_app:
        for application in (workers_app, client_app):
            @application.function
            def child(ctx: DurableContext) -> object:
                return ctx.wait_for_event("go")

            @application.function
            def parent(ctx: DurableContext) -> list[object]:
                approval = ctx.create_callback(name="approval")
                return [approval.result(), ctx.invoke(child, None)]

        def waiting(execution_id: str, op_type: str) -> bool:
            return any(op.type.value == op_type and op.status.value == "STARTED"
                       for op in client_app.store.operations(execution_id))

        with workers_app.run_worker():
            handle = client_app.start("parent", id="tree-1")
            wait_until(lambda: waiting("tree-1", "CALLBACK"), what="the callback")
            [callback] = client_app.store.operations("tree-1")
            client_app.client.callback_success(callback.details["callback_id"], "yes")
            wait_until(lambda: waiting("tree-1:2", "CALLBACK"), what="the child's event wait")
            client_app.client.send_event("tree-1:2", "go", 7)
            assert handle.result(timeout=5) == ["yes", 7]

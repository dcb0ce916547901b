"""The Store contract: the same behaviour from every store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conftest import wait_until
from redwood.errors import LeaseLost, UnknownExecution
from redwood.model import (
    RESULT_FROM_EXECUTION,
    RESULT_FROM_OPERATION,
    ErrorRecord,
    ExecutionFilter,
    NewEvent,
    Operation,
)
from redwood.store.base import JournalWrite, NewExecution, Outcome, Store
from redwood.store.migrations import latest_version
from redwood.store.postgres import PostgresStore
from redwood.store.sqlite import SQLiteStore
from redwood.types import BlockedKind, ExecutionStatus, OperationStatus, OperationType

NOW = 1_800_000_000.0
LEASE = 30.0


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens stores on one database (each its own connections); closes them after the test."""
    opened: list[Store] = []
    if request.param == "sqlite":
        path = tmp_path / "contract.db"

        def factory() -> Store:
            opened.append(SQLiteStore(path))
            return opened[-1]
    else:
        url = request.getfixturevalue("postgres_url")

        def factory() -> Store:
            opened.append(PostgresStore(url))
            return opened[-1]
    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    return open_store()


def new(execution_id: str, now: float = NOW, **fields: Any) -> NewExecution:
    return NewExecution(id=execution_id, function=fields.pop("function", "f"), input='"in"',
                        now=now, **fields)


def step(op_id: str, status: OperationStatus = OperationStatus.SUCCEEDED,
         result: str | None = '"ok"') -> Operation:
    return Operation(id=op_id, parent_id=None, type=OperationType.STEP, subtype=None,
                     name=f"step-{op_id}", status=status, attempt=1, result=result,
                     started_at=NOW, details={"k": op_id})


def succeeded(op_id: str) -> NewEvent:
    return NewEvent(type="StepSucceeded", operation_id=op_id, name=f"step-{op_id}",
                    details={"result": '"ok"'})


def claim_one(store: Store, worker: str = "w1", now: float = NOW) -> int:
    claims = store.claim(worker, now, LEASE, 1)
    assert len(claims) == 1, claims
    return claims[0].lease_token


# --- create --------------------------------------------------------------------------------------


def test_create_execution_is_idempotent_by_id(store: Store) -> None:
    first, created = store.create_execution(new("order-1"))
    again, created_again = store.create_execution(new("order-1", now=NOW + 5, function="g"))
    assert created and not created_again
    assert again == first
    assert first.status is ExecutionStatus.RUNNING and first.ready_at == NOW
    assert first.lease_token == 0 and first.invocations == 0
    started = [e for e in store.history("order-1") if e.type == "ExecutionStarted"]
    assert len(started) == 1
    assert started[0].details == {"input": '"in"', "function": "f"}


def test_leased_start_is_claimed_until_its_lease_expires(store: Store) -> None:
    execution, _ = store.create_execution(new("a", lease_owner="w1", lease_seconds=LEASE))
    assert execution.lease_owner == "w1" and execution.lease_token == 1
    assert execution.invocations == 1
    assert store.claim("w2", NOW + LEASE - 1, LEASE, 10) == []
    claims = store.claim("w2", NOW + LEASE, LEASE, 10)
    assert [c.lease_token for c in claims] == [2]


# --- claim, lease, fencing -----------------------------------------------------------------------


def test_claim_leases_the_earliest_ready_executions_up_to_the_limit(store: Store) -> None:
    for i, execution_id in enumerate(["c", "a", "b"]):
        store.create_execution(new(execution_id, now=NOW + i))
    first = store.claim("w1", NOW + 10, LEASE, 2)
    assert sorted(c.execution.id for c in first) == ["a", "c"]
    for claim in first:
        assert claim.lease_token == 1 and claim.execution.lease_owner == "w1"
        assert claim.execution.ready_at == claim.execution.lease_expires_at == NOW + 10 + LEASE
        assert claim.execution.invocations == 1
    assert [c.execution.id for c in store.claim("w2", NOW + 10, LEASE, 2)] == ["b"]
    assert store.claim("w3", NOW + 10, LEASE, 2) == []


def test_claim_loads_the_journal_in_first_recorded_order(store: Store) -> None:
    store.create_execution(new("a"))
    token = claim_one(store)
    store.commit(JournalWrite("a", token, NOW, operations=(step("2"), step("1"))))
    store.commit(JournalWrite("a", token, NOW, operations=(
        step("1", result='"changed"'), step("3", OperationStatus.STARTED, None))))
    store.commit(JournalWrite("a", token, NOW + 1, release=True, ready_at=NOW + 1))
    claim = store.claim("w1", NOW + 1, LEASE, 1)[0]
    assert [op.id for op in claim.operations] == ["2", "1", "3"]
    assert claim.operations[1].result == '"changed"'
    assert claim.operations[1].details == {"k": "1"}
    assert claim.operations == store.operations("a")


def test_expired_lease_is_claimed_again_under_a_new_token(store: Store) -> None:
    store.create_execution(new("a"))
    assert claim_one(store, "w1") == 1
    assert store.claim("w2", NOW + LEASE - 0.5, LEASE, 1) == []
    assert claim_one(store, "w2", NOW + LEASE) == 2
    assert store.get_execution("a").lease_owner == "w2"  # type: ignore[union-attr]


def test_write_under_a_stale_lease_token_is_refused_and_nothing_is_written(store: Store) -> None:
    store.create_execution(new("a"))
    stale = claim_one(store, "w1")
    store.commit(JournalWrite("a", stale, NOW, operations=(step("1"),), events=(succeeded("1"),)))
    current = claim_one(store, "w2", NOW + LEASE)
    journal, history = store.operations("a"), store.history("a")
    with pytest.raises(LeaseLost) as refused:
        store.commit(JournalWrite(
            "a", stale, NOW + LEASE + 1, operations=(step("1", result='"late"'), step("2")),
            events=(succeeded("2"),),
            outcome=Outcome(ExecutionStatus.SUCCEEDED, result='"late"')))
    assert refused.value.execution_id == "a" and refused.value.lease_token == stale
    assert f"lease token {current}" in str(refused.value)
    assert store.operations("a") == journal
    assert store.history("a") == history
    execution = store.get_execution("a")
    assert execution is not None and execution.status is ExecutionStatus.RUNNING
    assert execution.lease_owner == "w2" and execution.lease_token == current


@pytest.mark.parametrize("shape", ["checkpoint", "release", "ending", "grouped", "with a child"])
def test_a_write_after_the_lease_expired_is_refused_though_nobody_claimed_it(
    store: Store, shape: str
) -> None:
    # A holder whose renewals failed (a database restart, a long pause) must not record results
    # after its lease expired: a new holder may claim the execution at any moment from then on
    # and would run the next step again while the old holder runs it too.
    store.create_execution(new("a"))
    token = claim_one(store, "w1")  # leased until NOW + LEASE
    store.commit(JournalWrite("a", token, NOW + LEASE - 1, operations=(step("1"),),
                              events=(succeeded("1"),)))  # a moment before: accepted
    journal, history = store.operations("a"), store.history("a")
    late = NOW + LEASE

    def checkpoint(execution_id: str, lease_token: int) -> JournalWrite:
        return JournalWrite(execution_id, lease_token, late, operations=(step("2"),),
                            events=(succeeded("2"),))

    writes = {
        "checkpoint": checkpoint("a", token),
        "release": JournalWrite("a", token, late, release=True, ready_at=late + 60,
                                blocked_on=BlockedKind.TIMER),
        "ending": JournalWrite("a", token, late, outcome=Outcome(ExecutionStatus.SUCCEEDED,
                                                                 '"r"'), alone=True),
        "with a child": JournalWrite("a", token, late, start_children=(
            new("a:2", late, parent_execution_id="a", parent_operation_id="2"),)),
    }
    with pytest.raises(LeaseLost, match="the lease expired at") as refused:
        if shape == "grouped":
            store.create_execution(new("b"))
            fresh = claim_one(store, "w1", late)
            other = store.submit_commit(checkpoint("b", fresh))
            expired = store.submit_commit(checkpoint("a", token))
            assert other.result(timeout=10).cancel_requested is False
            expired.result(timeout=10)
        else:
            store.commit(writes[shape])
    assert refused.value.execution_id == "a" and refused.value.lease_token == token
    assert store.operations("a") == journal and store.history("a") == history
    assert store.get_execution("a:2") is None
    execution = store.get_execution("a")
    assert execution is not None and execution.status is ExecutionStatus.RUNNING
    assert claim_one(store, "w2", late) == token + 1  # its next holder goes on from there


def test_checkpoints_committed_together_refuse_only_the_stale_one(store: Store) -> None:
    for execution_id in ("a", "b", "c"):
        store.create_execution(new(execution_id))
    tokens = {claim.execution.id: claim.lease_token for claim in store.claim("w", NOW, LEASE, 3)}
    futures = {
        execution_id: store.submit_commit(JournalWrite(
            execution_id, tokens[execution_id] - (execution_id == "b"), NOW,
            operations=(step("1"), step("2")), events=(succeeded("1"), succeeded("2"))))
        for execution_id in ("a", "b", "c")
    }
    assert futures["a"].result(timeout=10).cancel_requested is False
    assert futures["c"].result(timeout=10).cancel_requested is False
    with pytest.raises(LeaseLost) as refused:
        futures["b"].result(timeout=10)
    assert refused.value.execution_id == "b"
    assert store.operations("b") == []
    assert [e.type for e in store.history("b")] == ["ExecutionStarted"]
    for execution_id in ("a", "c"):
        assert [op.id for op in store.operations(execution_id)] == ["1", "2"]
        assert [e.operation_id for e in store.history(execution_id)] == [None, "1", "2"]


def test_endings_and_releases_committed_together_each_take_effect(store: Store) -> None:
    for execution_id in ("ends", "sleeps", "woken"):
        store.create_execution(new(execution_id))
    tokens = {claim.execution.id: claim.lease_token for claim in store.claim("w", NOW, LEASE, 3)}
    store.request_cancel("woken", NOW)  # held: flagged, and ready at once when released
    futures = [
        store.submit_commit(JournalWrite("ends", tokens["ends"], NOW, operations=(step("1"),),
                                         outcome=Outcome(ExecutionStatus.SUCCEEDED, '"r"'),
                                         alone=True)),
        store.submit_commit(JournalWrite("sleeps", tokens["sleeps"], NOW, release=True,
                                         ready_at=NOW + 60, blocked_on=BlockedKind.TIMER)),
        store.submit_commit(JournalWrite("woken", tokens["woken"], NOW + 1, release=True,
                                         ready_at=NOW + 60, blocked_on=BlockedKind.TIMER)),
    ]
    for future in futures:
        future.result(timeout=10)
    ends, sleeps, woken = (store.get_execution(i) for i in ("ends", "sleeps", "woken"))
    assert ends is not None and ends.status is ExecutionStatus.SUCCEEDED
    assert ends.result == '"r"' and ends.lease_owner is None and ends.ready_at is None
    assert [op.id for op in store.operations("ends")] == ["1"]
    assert sleeps is not None and sleeps.lease_owner is None and sleeps.ready_at == NOW + 60
    assert sleeps.blocked_on is BlockedKind.TIMER
    assert woken is not None and woken.ready_at == NOW + 1
    assert store.next_ready_at() == NOW + 1


def test_writes_to_finished_or_unknown_executions_are_refused(store: Store) -> None:
    store.create_execution(new("a"))
    token = claim_one(store)
    store.commit(JournalWrite("a", token, NOW, outcome=Outcome(ExecutionStatus.SUCCEEDED, '"r"')))
    with pytest.raises(LeaseLost, match="already SUCCEEDED"):
        store.commit(JournalWrite("a", token, NOW, operations=(step("9"),)))
    with pytest.raises(LeaseLost, match="does not exist"):
        store.commit(JournalWrite("nope", 1, NOW, operations=(step("1"),)))
    assert store.operations("a") == [] and store.operations("nope") == []


def test_renew_extends_held_leases_and_reports_the_lost_ones(store: Store) -> None:
    for execution_id in ("a", "b", "c"):
        store.create_execution(new(execution_id))
    tokens = {c.execution.id: c.lease_token for c in store.claim("w1", NOW, LEASE, 3)}
    store.commit(JournalWrite("c", tokens["c"], NOW, outcome=Outcome(ExecutionStatus.SUCCEEDED)))
    lost = store.renew_leases("w1", {**tokens, "b": tokens["b"] + 7}, NOW + 10, LEASE)
    assert lost == {"b", "c"}
    renewed = store.get_execution("a")
    assert renewed is not None
    assert renewed.lease_expires_at == renewed.ready_at == NOW + 10 + LEASE
    assert store.renew_leases("w2", {"a": tokens["a"]}, NOW + 11, LEASE) == {"a"}
    # "b" was not renewed (wrong token): its lease lapses at NOW+30, "a"'s at NOW+40.
    assert [c.execution.id for c in store.claim("w2", NOW + LEASE + 1, LEASE, 3)] == ["b"]
    assert [c.execution.id for c in store.claim("w2", NOW + LEASE + 10, LEASE, 3)] == ["a"]


# --- release, wake-ups, cancel -------------------------------------------------------------------


def test_release_makes_the_execution_ready_at_its_next_timer(store: Store) -> None:
    store.create_execution(new("a"))
    token = claim_one(store)
    result = store.commit(JournalWrite("a", token, NOW + 1, release=True, ready_at=NOW + 60))
    assert not result.cancel_requested
    released = store.get_execution("a")
    assert released is not None and released.lease_owner is None and released.ready_at == NOW + 60
    assert store.next_ready_at() == NOW + 60
    assert store.claim("w1", NOW + 59, LEASE, 1) == []
    assert claim_one(store, "w1", NOW + 60) == token + 1


def test_release_without_timer_waits_for_the_outside_world(store: Store) -> None:
    store.create_execution(new("a"))
    token = claim_one(store)
    store.commit(JournalWrite("a", token, NOW, release=True, ready_at=None))
    assert store.next_ready_at() is None
    assert store.claim("w1", NOW + 10**6, LEASE, 1) == []


def test_cancel_of_a_held_execution_flags_it_and_wakes_it_at_release(store: Store) -> None:
    store.create_execution(new("a"))
    token = claim_one(store)
    flagged = store.request_cancel("a", NOW + 1)
    assert flagged.status is ExecutionStatus.RUNNING and flagged.cancel_requested
    assert store.commit(JournalWrite("a", token, NOW + 2, operations=(step("1"),))) \
        .cancel_requested
    # wake_pending: the release makes it ready at once, not at its (far) timer.
    store.commit(JournalWrite("a", token, NOW + 3, release=True, ready_at=NOW + 3600))
    assert store.next_ready_at() == NOW + 3
    claim = store.claim("w1", NOW + 3, LEASE, 1)[0]
    assert claim.execution.cancel_requested and claim.lease_token == token + 1


def test_cancel_of_an_unheld_execution_stops_it_at_once(store: Store) -> None:
    store.create_execution(new("a"))
    lapsed = claim_one(store)
    stopped = store.request_cancel("a", NOW + LEASE + 1)
    assert stopped.status is ExecutionStatus.STOPPED and stopped.ended_at == NOW + LEASE + 1
    assert stopped.ready_at is None and stopped.lease_owner is None
    assert stopped.lease_token == lapsed + 1
    events = store.history("a")
    assert events[-1].type == "ExecutionStopped" and events[-1].details == {"reason": "cancelled"}
    with pytest.raises(LeaseLost):
        store.commit(JournalWrite("a", lapsed, NOW + LEASE + 2, operations=(step("1"),)))
    again = store.request_cancel("a", NOW + LEASE + 3)
    assert again == stopped
    assert len(store.history("a")) == len(events)


def test_cancel_of_an_unknown_execution_is_refused(store: Store) -> None:
    with pytest.raises(UnknownExecution, match='"ghost"'):
        store.request_cancel("ghost", NOW)


def test_outcome_finishes_the_execution(store: Store) -> None:
    store.create_execution(new("ok"))
    store.create_execution(new("bad"))
    tokens = {c.execution.id: c.lease_token for c in store.claim("w1", NOW, LEASE, 2)}
    error = ErrorRecord(type="builtins.ValueError", message="no", mro=("builtins.ValueError",))
    store.commit(JournalWrite("ok", tokens["ok"], NOW + 1,
                              outcome=Outcome(ExecutionStatus.SUCCEEDED, result='"yes"')))
    store.commit(JournalWrite("bad", tokens["bad"], NOW + 2,
                              outcome=Outcome(ExecutionStatus.FAILED, error=error)))
    ok, bad = store.get_execution("ok"), store.get_execution("bad")
    assert ok is not None and bad is not None
    assert (ok.status, ok.result, ok.ended_at) == (ExecutionStatus.SUCCEEDED, '"yes"', NOW + 1)
    assert (bad.status, bad.error, bad.ended_at) == (ExecutionStatus.FAILED, error, NOW + 2)
    assert ok.lease_owner is None and ok.ready_at is None
    assert store.next_ready_at() is None


# --- reads ---------------------------------------------------------------------------------------


def test_list_executions_filters_newest_first_and_pages(store: Store) -> None:
    store.create_execution(new("order-1", now=NOW, function="order"))
    store.create_execution(new("order-2", now=NOW + 1, function="order"))
    store.create_execution(new("mail-1", now=NOW + 2, function="mail"))
    store.create_execution(new("order-3", now=NOW + 3, function="order",
                               parent_execution_id="mail-1", parent_operation_id="1"))
    token = claim_one(store, now=NOW + 4)  # the earliest ready: order-1
    store.commit(JournalWrite("order-1", token, NOW + 4,
                              outcome=Outcome(ExecutionStatus.SUCCEEDED)))

    def ids(**where: Any) -> list[str]:
        return [e.id for e in store.list_executions(ExecutionFilter(**where))]

    assert ids() == ["order-3", "mail-1", "order-2", "order-1"]
    assert ids(function="order") == ["order-3", "order-2", "order-1"]
    assert ids(statuses=(ExecutionStatus.SUCCEEDED,)) == ["order-1"]
    assert ids(statuses=(ExecutionStatus.RUNNING, ExecutionStatus.FAILED)) == \
        ["order-3", "mail-1", "order-2"]
    assert ids(created_after=NOW + 1, created_before=NOW + 3) == ["mail-1", "order-2"]
    assert ids(id_contains="der-") == ["order-3", "order-2", "order-1"]
    assert ids(id_contains="%") == []
    assert ids(parent_execution_id="mail-1") == ["order-3"]
    assert ids(limit=2) == ["order-3", "mail-1"]
    assert ids(limit=2, before_id=(NOW + 2, "mail-1")) == ["order-2", "order-1"]


def test_history_is_in_commit_order_and_pages_by_id(store: Store) -> None:
    store.create_execution(new("a"))
    store.create_execution(new("b", now=NOW + 1))
    token = claim_one(store)
    for i in range(1, 4):
        store.commit(JournalWrite("a", token, NOW + i, events=(succeeded(str(i)),)))
    events = store.history("a")
    assert [e.type for e in events] == ["ExecutionStarted"] + ["StepSucceeded"] * 3
    assert [e.operation_id for e in events[1:]] == ["1", "2", "3"]
    assert [e.timestamp for e in events] == [NOW, NOW + 1, NOW + 2, NOW + 3]
    assert all(e.execution_id == "a" for e in events)
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events[1].details == {"result": '"ok"'} and events[1].name == "step-1"
    assert store.history("a", after_id=events[1].id, limit=1) == [events[2]]
    assert [e.type for e in store.history("b")] == ["ExecutionStarted"]


def test_an_event_shows_the_result_its_operation_or_execution_row_holds(store: Store) -> None:
    # A result is kept once: an event that refers to its row (result_from) shows it on every
    # history read, where it is put first as when it was held in the details.
    big = '"' + "x" * 100_000 + '"'
    store.create_execution(new("a"))
    token = claim_one(store)
    store.commit(JournalWrite(
        "a", token, NOW + 1, operations=(step("1", result=big),), alone=True,
        events=(NewEvent(type="StepSucceeded", operation_id="1", name="step-1",
                         details={"attempt": 1}, result_from=RESULT_FROM_OPERATION),
                NewEvent(type="ExecutionSucceeded", result_from=RESULT_FROM_EXECUTION)),
        outcome=Outcome(ExecutionStatus.SUCCEEDED, result='"done"')))
    started, step_succeeded, execution_succeeded = store.history("a")
    assert step_succeeded.details == {"result": big, "attempt": 1}
    assert list(step_succeeded.details) == ["result", "attempt"]
    assert execution_succeeded.details == {"result": '"done"'}
    assert "result" not in started.details
    assert store.operation_history("a", ["1"]) == [step_succeeded]
    assert store.latest_event("a", "ExecutionSucceeded") == execution_succeeded


def test_next_ready_at_is_the_earliest_claimable_moment(store: Store) -> None:
    assert store.next_ready_at() is None
    store.create_execution(new("late", now=NOW + 50))
    store.create_execution(new("early", now=NOW + 5))
    assert store.next_ready_at() == NOW + 5
    claim_one(store, now=NOW + 60)  # "early" is now leased until NOW + 90
    assert store.next_ready_at() == NOW + 50


def _moves(marker: Callable[[], int]) -> Callable[[Callable[[], object], str], None]:
    """A check that ``action`` moves ``marker`` (within a deadline); ``what`` names the action."""
    def moves(action: Callable[[], object], what: str) -> None:
        before = marker()
        action()
        wait_until(lambda: marker() != before, timeout=5, what=what)
    return moves


def test_change_marker_moves_on_commits_from_another_connection(
    open_store: Callable[[], Store],
) -> None:
    watcher, writer = open_store(), open_store()
    moves = _moves(watcher.change_marker)
    moves(lambda: writer.create_execution(new("a")), "a start")
    token = writer.claim("w", NOW, LEASE, 1)[0].lease_token
    moves(lambda: writer.commit(JournalWrite("a", token, NOW, release=True, ready_at=NOW)),
          "a release that makes it ready")
    token = writer.claim("w", NOW, LEASE, 1)[0].lease_token
    moves(lambda: writer.request_cancel("a", NOW), "a cancel request")
    moves(lambda: writer.commit(JournalWrite("a", token, NOW,
                                             outcome=Outcome(ExecutionStatus.STOPPED))),
          "an execution finishing")


def test_ready_marker_moves_on_commits_that_make_work_ready(
    open_store: Callable[[], Store],
) -> None:
    watcher, writer = open_store(), open_store()
    moves = _moves(watcher.ready_marker)
    moves(lambda: writer.create_execution(new("a")), "a start")
    token = writer.claim("w", NOW, LEASE, 1)[0].lease_token
    moves(lambda: writer.commit(JournalWrite("a", token, NOW, release=True, ready_at=NOW)),
          "a release that makes it ready")
    writer.claim("w", NOW, LEASE, 1)
    moves(lambda: writer.request_cancel("a", NOW), "a cancel request")


def test_count_by_status_ignores_the_status_filter_and_paging(store: Store) -> None:
    for i, execution_id in enumerate(["a", "b", "c"]):
        store.create_execution(new(execution_id, now=NOW + i, function="g" if i else "f"))
    token = claim_one(store)  # "a"
    store.commit(JournalWrite("a", token, NOW, outcome=Outcome(ExecutionStatus.FAILED)))
    where = ExecutionFilter(statuses=(ExecutionStatus.FAILED,), limit=1, before_id=(NOW, "a"))
    assert store.count_by_status(where) == {ExecutionStatus.FAILED: 1, ExecutionStatus.RUNNING: 2}
    assert store.count_by_status(ExecutionFilter(function="g")) == {ExecutionStatus.RUNNING: 2}


def test_latest_event_and_the_history_of_some_operations(store: Store) -> None:
    store.create_execution(new("a"))
    token = claim_one(store)
    for i in range(1, 4):
        store.commit(JournalWrite("a", token, NOW + i, events=(succeeded(str(i)),)))
    assert store.latest_event("a", "StepSucceeded").operation_id == "3"  # type: ignore[union-attr]
    assert store.latest_event("a", "ExecutionFailed") is None
    picked = store.operation_history("a", ["3", "1", "9"])
    assert [(e.type, e.operation_id) for e in picked] == [("StepSucceeded", "1"),
                                                         ("StepSucceeded", "3")]


def test_blocked_on_is_recorded_at_release_and_cleared_at_the_end(store: Store) -> None:
    store.create_execution(new("a"))
    token = claim_one(store)
    store.commit(JournalWrite("a", token, NOW, release=True, ready_at=NOW + 60,
                              blocked_on=BlockedKind.TIMER))
    assert store.get_execution("a").blocked_on is BlockedKind.TIMER  # type: ignore[union-attr]

    def blocked(kind: BlockedKind, now: float) -> list[str]:
        return [e.id for e in store.list_executions(ExecutionFilter(blocked_on=kind, now=now))]

    assert blocked(BlockedKind.TIMER, NOW + 59) == ["a"]
    assert blocked(BlockedKind.READY, NOW + 60) == ["a"]
    token = claim_one(store, now=NOW + 60)
    assert blocked(BlockedKind.RUNNING, NOW + 61) == ["a"]
    store.commit(JournalWrite("a", token, NOW + 61, outcome=Outcome(ExecutionStatus.SUCCEEDED)))
    assert store.get_execution("a").blocked_on is None  # type: ignore[union-attr]


# --- trees of executions -------------------------------------------------------------------------


def invoke(op_id: str) -> Operation:
    return Operation(id=op_id, parent_id=None, type=OperationType.CHAINED_INVOKE, subtype=None,
                     name="child", status=OperationStatus.STARTED, started_at=NOW,
                     details={"child_execution_id": f"p:{op_id}"})


def test_a_childs_outcome_completes_the_parents_invoke_and_wakes_it(store: Store) -> None:
    store.create_execution(new("p"))
    token = claim_one(store)
    child = new("p:1", parent_execution_id="p", parent_operation_id="1")
    store.commit(JournalWrite("p", token, NOW, operations=(invoke("1"),),
                              start_children=(child, child)))
    store.commit(JournalWrite("p", token, NOW + 1, release=True, ready_at=None,
                              blocked_on=BlockedKind.CHILDREN))
    started = store.history("p:1")[0]
    assert started.details == {"input": '"in"', "function": "f", "parent_execution_id": "p",
                               "parent_operation_id": "1"}
    child_token = claim_one(store, "w2", NOW + 2)
    store.commit(JournalWrite("p:1", child_token, NOW + 3,
                              outcome=Outcome(ExecutionStatus.SUCCEEDED, result='"done"')))
    [op] = store.operations("p")
    assert (op.status, op.result, op.ended_at) == (OperationStatus.SUCCEEDED, '"done"', NOW + 3)
    event = store.history("p")[-1]
    assert (event.type, event.operation_id) == ("ChainedInvokeSucceeded", "1")
    assert store.get_execution("p").ready_at == NOW + 3  # type: ignore[union-attr]


def test_cancel_stops_the_tree_and_reaches_the_waiting_parent(store: Store) -> None:
    store.create_execution(new("p"))
    token = claim_one(store)
    children = tuple(new(f"p:{n}", parent_execution_id="p", parent_operation_id=str(n))
                     for n in (1, 2))
    store.commit(JournalWrite("p", token, NOW, operations=(invoke("1"), invoke("2")),
                              start_children=children))
    store.commit(JournalWrite("p", token, NOW, release=True, ready_at=None))
    held = claim_one(store, "w2", NOW + 1)  # "p:1" is running on a worker; "p:2" is not
    store.commit(JournalWrite("p:1", held, NOW + 1, operations=(step("1", OperationStatus.STARTED,
                                                                     None),)))

    store.request_cancel("p:2", NOW + 2)
    stopped = store.get_execution("p:2")
    assert stopped is not None and stopped.status is ExecutionStatus.STOPPED
    assert [op.status for op in store.operations("p")] == [OperationStatus.STARTED,
                                                           OperationStatus.STOPPED]
    assert store.history("p")[-1].type == "ChainedInvokeStopped"

    store.request_cancel("p", NOW + 3)
    assert store.get_execution("p").status is ExecutionStatus.STOPPED  # type: ignore[union-attr]
    flagged = store.get_execution("p:1")
    assert flagged is not None and flagged.status is ExecutionStatus.RUNNING
    assert flagged.cancel_requested
    assert store.commit(JournalWrite("p:1", held, NOW + 4)).cancel_requested
    stop = store.history("p")[-1]
    assert stop.type == "ExecutionStopped"
    assert stop.details == {"reason": "cancelled", "cancelled_operations": ["1"]}


def test_stopping_a_child_whose_invoke_was_cancelled(store: Store) -> None:
    store.create_execution(new("p"))
    token = claim_one(store)
    child = new("p:1", parent_execution_id="p", parent_operation_id="1")
    store.commit(JournalWrite("p", token, NOW, operations=(invoke("1"),),
                              start_children=(child,)))
    cancelled = replace(invoke("1"), status=OperationStatus.CANCELLED, ended_at=NOW + 1)
    store.commit(JournalWrite("p", token, NOW + 1, operations=(cancelled,),
                              stop_children=("p:1",)))
    stopped = store.get_execution("p:1")
    assert stopped is not None and stopped.status is ExecutionStatus.STOPPED
    assert store.history("p:1")[-1].details == {
        "reason": "its invoke operation was cancelled"}
    assert store.operations("p") == [cancelled]  # the parent stopped waiting: left as it is


# --- workers -------------------------------------------------------------------------------------


def test_workers_are_live_while_their_heartbeat_vouches_for_them(store: Store) -> None:
    store.create_execution(new("a"))
    store.create_execution(new("b", now=NOW + 1))
    store.claim("w1", NOW, LEASE, 1)
    info = {"host": "h", "pid": 7, "concurrency": 4, "in_flight": 1, "lease_seconds": LEASE}
    store.heartbeat_worker("w1", info, NOW)
    store.heartbeat_worker("w2", {**info, "in_flight": 0, "lease_seconds": 5.0}, NOW)
    store.heartbeat_worker("w1", {**info, "in_flight": 2}, NOW + 1)
    live = store.list_workers(NOW + 2)
    assert [w.id for w in live] == ["w1", "w2"]
    assert live[0].leases == ("a",) and live[1].leases == ()
    assert live[0].info["in_flight"] == 2 and live[0].load == 0.5
    assert (live[0].started_at, live[0].heartbeat_at) == (NOW, NOW + 1)
    assert [w.id for w in store.list_workers(NOW + 6)] == ["w1"]  # w2's heartbeat lapsed
    store.heartbeat_worker("w1", {**info, "stopped": True}, NOW + 7)
    assert store.list_workers(NOW + 7) == []


def test_store_reports_its_schema_version(open_store: Callable[[], Store]) -> None:
    first = open_store()
    dialect = "sqlite" if isinstance(first, SQLiteStore) else "postgres"
    latest = latest_version(dialect)
    assert first.schema_versions[1] == latest
    assert open_store().schema_versions == (latest, latest)

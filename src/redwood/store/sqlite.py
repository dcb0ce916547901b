"""The embedded SQLite store: one file, WAL mode, and group commit across threads."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Collection
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from redwood import faults
from redwood.errors import ExecutionConflict
from redwood.model import (
    Claim,
    Execution,
    ExecutionFilter,
    HistoryEvent,
    InboxEvent,
    LiveWorker,
    NewEvent,
    Operation,
)
from redwood.store import outside, tree
from redwood.store.base import CallbackChange, CommitResult, JournalWrite, NewExecution
from redwood.store.common import (
    GET_EXECUTION,
    HELD_LEASES,
    HISTORY,
    INBOX,
    INSERT_EVENT,
    LATEST_EVENT,
    LIVE_WORKERS,
    NEXT_READY_AT,
    OPERATIONS,
    SQLITE,
    UPSERT_OPERATION,
    WORKER_ROW_RETENTION,
    Transaction,
    count_by_status_sql,
    info_text,
    lease_lost,
    list_executions_sql,
    live_workers,
    started_details,
    worker_alive_until,
)
from redwood.store.group import GroupCommit, Request
from redwood.store.migrations import pending, statements
from redwood.store.rows import (
    EXECUTION_COLUMNS,
    HISTORY_COLUMNS,
    HISTORY_FROM,
    error_text,
    event_params,
    execution_from_row,
    history_from_row,
    operation_from_row,
    operation_params,
)
from redwood.types import BlockedKind, Durability, ExecutionStatus

T = TypeVar("T")

_SYNCHRONOUS = {Durability.OS_CRASH: "FULL", Durability.PROCESS_CRASH: "NORMAL",
                Durability.NONE: "OFF"}


# The statements of a W1 execution's write path, also sent alone by benchmarks/bound.py.
CREATE_EXECUTION = (
    "INSERT INTO executions (id, function, status, input, created_at, ready_at, lease_owner, "
    "lease_expires_at, lease_token, parent_execution_id, parent_operation_id, timeout_at, "
    "invocations) VALUES (?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    f"ON CONFLICT (id) DO NOTHING RETURNING {EXECUTION_COLUMNS}"
)
END_EXECUTION = (
    "UPDATE executions SET status = ?, result = ?, error = ?, ended_at = ?, "
    "ready_at = NULL, lease_owner = NULL, lease_expires_at = NULL, wake_pending = 0, "
    "blocked_on = NULL WHERE id = ?"
)


def fence(count: int) -> str:
    """The read that fences ``count`` executions' checkpoints: lease token, status, cancel,
    lease expiry."""
    return ("SELECT id, lease_token, status, cancel_requested, lease_expires_at FROM executions "
            f"WHERE id IN ({', '.join('?' * count)})")


def _write_batch(connection: sqlite3.Connection, batch: list[Request]) -> None:
    """Write a group commit's batch in one transaction (see group.py)."""
    journals = [request for request in batch if request.journal is not None]
    others = [request for request in batch if request.journal is None]
    isolate = len(batch) > 1
    try:
        connection.execute("BEGIN IMMEDIATE")
        if journals:
            # Checkpoints are written together with a fixed number of statements, however
            # many executions share the commit: every statement releases the GIL, and
            # getting it back costs up to a switch interval when other threads are busy.
            _commit_journals(connection, journals)
        for request in others:
            _apply(connection, request, isolate)
        if faults.ACTIVE:
            faults.reach("commit.before")
        connection.execute("COMMIT")
        if faults.ACTIVE:
            faults.reach("commit.after")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _apply(connection: sqlite3.Connection, request: Request, isolate: bool) -> None:
    assert request.fn is not None
    if not isolate:
        request.value = request.fn(connection)
        return
    # A refused request (stale lease, conflict) must not undo its neighbours in the batch.
    connection.execute("SAVEPOINT request")
    try:
        request.value = request.fn(connection)
    except Exception as error:
        connection.execute("ROLLBACK TO request")
        request.error = error
    connection.execute("RELEASE request")


class SQLiteStore:
    """Executions, journals and history in one SQLite file (WAL, shared by threads and
    processes)."""

    def __init__(self, path: str | Path, durability: Durability = Durability.OS_CRASH) -> None:
        self.path = str(path)
        self.durability = Durability(durability)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        writer = self._connect()
        self.schema_versions = migrate(writer)
        self._committer = GroupCommit(partial(_write_batch, writer), "redwood-committer")
        self._watch = self._connect()
        self._watch_lock = threading.Lock()

    # --- connections -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                     timeout=30.0)
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {_SYNCHRONOUS[self.durability]}")
        connection.execute("PRAGMA foreign_keys = OFF")
        with self._connections_lock:
            self._connections.append(connection)
        return connection

    def _reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._connect()
            self._local.connection = connection
        return connection

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()

    def schema(self) -> list[tuple[str, str]]:
        """Every table and index with its SQL, for the migration test."""
        rows = self._reader().execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name"
        ).fetchall()
        return [(name, sql) for name, sql in rows]

    @property
    def commits(self) -> int:
        """Write transactions committed by this store object so far (one per group commit)."""
        return self._committer.commits

    # --- writes ------------------------------------------------------------------------------

    def create_execution(self, new: NewExecution) -> tuple[Execution, bool]:
        return self._committer.run(lambda c: _create_execution(c, new))

    def claim(self, worker_id: str, now: float, lease_seconds: float, limit: int) -> list[Claim]:
        return self._committer.run(lambda c: _claim(c, worker_id, now, lease_seconds, limit))

    def renew_leases(
        self, worker_id: str, leases: dict[str, int], now: float, lease_seconds: float
    ) -> set[str]:
        return self._committer.run(lambda c: _renew(c, worker_id, leases, now, lease_seconds))

    def commit(self, write: JournalWrite) -> CommitResult:
        return self._committer.commit(write)

    def submit_commit(self, write: JournalWrite) -> Future[CommitResult]:
        return self._committer.submit(write)

    def request_cancel(self, execution_id: str, now: float) -> Execution:
        return self._committer.run(
            lambda c: tree.request_cancel(_transaction(c), execution_id, now))

    def update_callback(self, callback_id: str, now: float, change: CallbackChange) -> Execution:
        return self._committer.run(
            lambda c: outside.update_callback(_transaction(c), callback_id, now, change))

    def send_event(
        self, execution_id: str, name: str, payload: str | None, now: float
    ) -> InboxEvent:
        return self._committer.run(
            lambda c: outside.send_event(_transaction(c), execution_id, name, payload, now))

    def heartbeat_worker(self, worker_id: str, info: dict[str, Any], now: float) -> None:
        self._committer.run(lambda c: _heartbeat(c, worker_id, info, now))

    # --- reads -------------------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> Execution | None:
        return _get_execution(self._reader(), execution_id)

    def list_executions(self, where: ExecutionFilter) -> list[Execution]:
        sql, params = list_executions_sql(EXECUTION_COLUMNS, where, SQLITE)
        rows = self._reader().execute(sql, params).fetchall()
        return [execution_from_row(row) for row in rows]

    def count_by_status(self, where: ExecutionFilter) -> dict[ExecutionStatus, int]:
        sql, params = count_by_status_sql(where, SQLITE)
        rows = self._reader().execute(sql, params).fetchall()
        return {ExecutionStatus(status): count for status, count in rows}

    def operations(self, execution_id: str) -> list[Operation]:
        return _operations(self._reader(), execution_id)

    def history(
        self, execution_id: str, after_id: int = 0, limit: int = 1000
    ) -> list[HistoryEvent]:
        rows = self._reader().execute(HISTORY, (execution_id, after_id, limit)).fetchall()
        return [history_from_row(row) for row in rows]

    def operation_history(
        self, execution_id: str, operation_ids: Collection[str]
    ) -> list[HistoryEvent]:
        wanted = list(operation_ids)
        found: list[HistoryEvent] = []
        # Chunks keep the statement under SQLite's bound-parameter limit.
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self._reader().execute(
                f"SELECT {HISTORY_COLUMNS} FROM {HISTORY_FROM} WHERE h.execution_id = ? "
                f"AND h.operation_id IN ({', '.join('?' for _ in chunk)}) ORDER BY h.id",
                (execution_id, *chunk),
            ).fetchall()
            found.extend(history_from_row(row) for row in rows)
        return sorted(found, key=lambda event: event.id) if len(wanted) > 500 else found

    def latest_event(self, execution_id: str, event_type: str) -> HistoryEvent | None:
        row = self._reader().execute(LATEST_EVENT, (execution_id, event_type)).fetchone()
        return None if row is None else history_from_row(row)

    def inbox(self, execution_id: str) -> list[InboxEvent]:
        rows = self._reader().execute(INBOX, (execution_id,)).fetchall()
        return [InboxEvent(*row) for row in rows]

    def next_ready_at(self) -> float | None:
        row = self._reader().execute(NEXT_READY_AT).fetchone()
        return None if row[0] is None else float(row[0])

    def change_marker(self) -> int:
        # data_version moves when any other connection (in this process or another) commits;
        # reading it touches shared memory only, so idle workers can check it often.
        with self._watch_lock:
            return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    def ready_marker(self) -> int:
        return self.change_marker()

    def watch(self, callback: Callable[[str, bool], None]) -> bool:
        """SQLite cannot push commits of other processes: waiters poll change_marker()."""
        return False

    def list_workers(self, now: float) -> list[LiveWorker]:
        reader = self._reader()
        rows = reader.execute(LIVE_WORKERS, (now,)).fetchall()
        leases = reader.execute(HELD_LEASES, (now, now)).fetchall()
        return live_workers(rows, leases)


def migrate(connection: sqlite3.Connection, target: int | None = None) -> tuple[int, int]:
    """Apply the migrations the database lacks (up to version ``target``, default all); return
    the schema version before and after."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        applied = {row[0] for row in connection.execute("SELECT version FROM schema_version")}
        before = max(applied, default=0)
        for migration in pending(applied, target, "sqlite"):
            for statement in statements(migration.sql):
                connection.execute(statement)
            connection.execute("INSERT INTO schema_version VALUES (?)", (migration.version,))
            applied.add(migration.version)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return before, max(applied, default=0)


# --- the write transactions (each runs inside the group commit) ---------------------------------


def _get_execution(connection: sqlite3.Connection, execution_id: str) -> Execution | None:
    row = connection.execute(GET_EXECUTION, (execution_id,)).fetchone()
    return None if row is None else execution_from_row(row)


def _operations(connection: sqlite3.Connection, execution_id: str) -> list[Operation]:
    rows = connection.execute(OPERATIONS, (execution_id,)).fetchall()
    return [operation_from_row(row) for row in rows]


def _transaction(connection: sqlite3.Connection) -> Transaction:
    """The writer connection inside the group commit's transaction, for the transactions
    shared with PostgreSQL."""
    return Transaction(connection, SQLITE, partial(_create_execution, connection))


def _create_execution(connection: sqlite3.Connection, new: NewExecution) -> tuple[Execution, bool]:
    leased = new.lease_owner is not None
    expires = new.now + new.lease_seconds if leased else None
    row = connection.execute(
        CREATE_EXECUTION,
        (new.id, new.function, new.input, new.now, expires if leased else new.now,
         new.lease_owner, expires, 1 if leased else 0, new.parent_execution_id,
         new.parent_operation_id, new.timeout_at, 1 if leased else 0),
    ).fetchone()
    if row is None:  # the id exists: the existing execution, untouched
        existing = _get_execution(connection, new.id)
        assert existing is not None
        return existing, False
    [started] = event_params(new.id, new.now, (NewEvent(
        type="ExecutionStarted", name=new.function, details=started_details(new)),))
    connection.execute(INSERT_EVENT, started)
    return execution_from_row(row), True


def _claim(
    connection: sqlite3.Connection, worker_id: str, now: float, lease_seconds: float, limit: int
) -> list[Claim]:
    expires = now + lease_seconds
    rows = connection.execute(
        "UPDATE executions SET lease_owner = ?, lease_expires_at = ?, ready_at = ?, "
        "lease_token = lease_token + 1, wake_pending = 0, invocations = invocations + 1 "
        "WHERE id IN (SELECT id FROM executions WHERE ready_at <= ? ORDER BY ready_at LIMIT ?) "
        f"RETURNING {EXECUTION_COLUMNS}",
        (worker_id, expires, expires, now, limit),
    ).fetchall()
    claims = []
    for row in rows:
        execution = execution_from_row(row)
        claims.append(Claim(execution, execution.lease_token,
                            _operations(connection, execution.id)))
    return claims


def _renew(
    connection: sqlite3.Connection, worker_id: str, leases: dict[str, int], now: float,
    lease_seconds: float,
) -> set[str]:
    lost = set()
    expires = now + lease_seconds
    for execution_id, token in leases.items():
        cursor = connection.execute(
            "UPDATE executions SET lease_expires_at = ?, ready_at = ? "
            "WHERE id = ? AND lease_owner = ? AND lease_token = ? AND status = 'RUNNING'",
            (expires, expires, execution_id, worker_id, token),
        )
        if cursor.rowcount != 1:
            lost.add(execution_id)
    return lost


def _commit_journals(connection: sqlite3.Connection, requests: list[Request]) -> None:
    """Apply many executions' checkpoint batches: fence them all with one read, then write the
    accepted ones with one statement per table. A refused write touches nothing."""
    writes = [request.journal for request in requests if request.journal is not None]
    ids = list({write.execution_id for write in writes})
    rows = connection.execute(fence(len(ids)), ids).fetchall()
    current = {row[0]: row for row in rows}
    accepted: list[JournalWrite] = []
    for request in requests:
        write = request.journal
        assert write is not None
        row = current.get(write.execution_id)
        # A lease ends at its expiry, claimed by another worker yet or not: a holder whose
        # renewals failed must not record results (and run its next step) after that.
        if row is None or row[1] != write.lease_token or row[2] != "RUNNING" \
                or row[4] is None or row[4] <= write.now:
            request.error = lease_lost(write, None if row is None else (row[1], row[2], row[4]))
            continue
        if write.consumed_events and not _consume_isolated(connection, request, write):
            continue
        request.value = CommitResult(cancel_requested=bool(row[3]))
        accepted.append(write)
    operations = [operation_params(w.execution_id, op) for w in accepted for op in w.operations]
    if operations:
        connection.executemany(UPSERT_OPERATION, operations)
    events = [params for w in accepted for params in event_params(w.execution_id, w.now, w.events)]
    if events:
        connection.executemany(INSERT_EVENT, events)
    outcomes = [
        (w.outcome.status.value, w.outcome.result, error_text(w.outcome.error), w.now,
         w.execution_id)
        for w in accepted if w.outcome is not None
    ]
    if outcomes:
        connection.executemany(END_EXECUTION, outcomes)
    releases = [(w.now, w.ready_at, _kind(w.blocked_on), w.execution_id) for w in accepted
                if w.outcome is None and w.release]
    if releases:
        # Something that arrived while we held the lease (an event, a cancel) must not wait for
        # a timer that may never come: it makes the execution ready at once.
        connection.executemany(
            "UPDATE executions SET lease_owner = NULL, lease_expires_at = NULL, wake_pending = 0, "
            "ready_at = CASE WHEN wake_pending = 1 OR cancel_requested = 1 THEN ? ELSE ? END, "
            "blocked_on = ? WHERE id = ?",
            releases,
        )
    # Trees: invoked children start, cancelled ones stop, and an ending flows up to the parent
    # and down to running children, all in this transaction.
    for write in accepted:
        if write.start_children or write.stop_children or \
                (write.outcome is not None and not write.alone):
            tree.change_tree(_transaction(connection), write)


def _kind(kind: BlockedKind | None) -> str | None:
    return None if kind is None else kind.value


def _consume_isolated(connection: sqlite3.Connection, request: Request, write: JournalWrite) -> bool:
    """Consume the write's inbox events; on refusal undo them and refuse the whole write."""
    connection.execute("SAVEPOINT consume")
    try:
        outside.consume_events(_transaction(connection), write)
    except ExecutionConflict as error:
        connection.execute("ROLLBACK TO consume")
        request.error = error
        return False
    finally:
        connection.execute("RELEASE consume")
    return True


def _heartbeat(connection: sqlite3.Connection, worker_id: str, info: dict[str, Any],
               now: float) -> None:
    connection.execute(
        "INSERT INTO workers (id, info, started_at, heartbeat_at, alive_until) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET info = excluded.info, "
        "heartbeat_at = excluded.heartbeat_at, alive_until = excluded.alive_until",
        (worker_id, info_text(info), now, now, worker_alive_until(info, now)),
    )
    connection.execute("DELETE FROM workers WHERE alive_until < ?", (now - WORKER_ROW_RETENTION,))

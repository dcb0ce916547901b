"""The embedded SQLite store: one file, WAL mode, and group commit across threads."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from redwood import faults
from redwood.errors import LeaseLost, UnknownExecution
from redwood.model import Claim, Execution, ExecutionFilter, HistoryEvent, Operation
from redwood.store.base import CommitResult, JournalWrite, NewExecution
from redwood.store.migrations import migrations, statements
from redwood.store.rows import (
    EXECUTION_COLUMNS,
    HISTORY_COLUMNS,
    OPERATION_COLUMNS,
    details_text,
    error_text,
    execution_from_row,
    history_from_row,
    operation_from_row,
    operation_params,
)
from redwood.types import Durability, ExecutionStatus

T = TypeVar("T")

_SYNCHRONOUS = {Durability.OS_CRASH: "FULL", Durability.PROCESS_CRASH: "NORMAL",
                Durability.NONE: "OFF"}

_UPSERT_OPERATION = (
    "INSERT INTO operations (execution_id, id, parent_id, type, subtype, name, status, attempt, "
    "result, error, due_at, started_at, ended_at, details) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (execution_id, id) DO UPDATE SET status = excluded.status, "
    "attempt = excluded.attempt, result = excluded.result, error = excluded.error, "
    "due_at = excluded.due_at, started_at = excluded.started_at, ended_at = excluded.ended_at, "
    "details = excluded.details"
)
_INSERT_EVENT = (
    "INSERT INTO history (execution_id, type, subtype, operation_id, parent_id, name, timestamp, "
    "details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class _Request:
    __slots__ = ("done", "error", "fn", "value", "wake")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        self.fn = fn
        self.done = False
        self.value: Any = None
        self.error: BaseException | None = None
        # A held lock is the cheapest one-shot wake-up: release() wakes the one waiter.
        self.wake = threading.Lock()
        self.wake.acquire()


class _GroupCommitter:
    """Leader/follower group commit. The thread that finds no commit in progress leads: it writes
    every queued request in one transaction (one fsync), then wakes each of them once and hands
    the lead to the first request that queued meanwhile. No thread hand-off on the uncontended
    path; under load every concurrent execution's checkpoint shares the same commit.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._leading = False
        # Transactions committed; only the leader writes it (benchmarks read it).
        self.commits = 0

    def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        request = _Request(fn)
        with self._lock:
            self._queue.append(request)
            lead = not self._leading
            self._leading = True
        if not lead:
            request.wake.acquire()
        if not request.done:
            self._lead()
        if request.error is not None:
            raise request.error
        return request.value  # type: ignore[no-any-return]

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._write(batch)
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._leading = successor is not None
            for request in batch:
                if request.wake.locked():
                    request.wake.release()
            if successor is not None:
                successor.wake.release()

    def _write(self, batch: list[_Request]) -> None:
        connection = self._connection
        isolate = len(batch) > 1
        try:
            connection.execute("BEGIN IMMEDIATE")
            for request in batch:
                self._apply(connection, request, isolate)
            if faults.ACTIVE:
                faults.reach("commit.before")
            connection.execute("COMMIT")
            self.commits += 1
            if faults.ACTIVE:
                faults.reach("commit.after")
        except BaseException as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            for request in batch:
                if request.error is None:
                    request.error = error
        finally:
            for request in batch:
                request.done = True

    @staticmethod
    def _apply(connection: sqlite3.Connection, request: _Request, isolate: bool) -> None:
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
    """Executions, journals and history in one SQLite file (WAL, shared by threads and processes)."""

    def __init__(self, path: str | Path, durability: Durability = Durability.OS_CRASH) -> None:
        self.path = str(path)
        self.durability = Durability(durability)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        writer = self._connect()
        self._migrate(writer)
        self._committer = _GroupCommitter(writer)
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

    def _migrate(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = connection.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for migration in migrations("sqlite"):
                if migration.version > current:
                    for statement in statements(migration.sql):
                        connection.execute(statement)
                    connection.execute("INSERT INTO schema_version VALUES (?)",
                                       (migration.version,))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

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
        return self._committer.run(lambda c: _commit(c, write))

    def request_cancel(self, execution_id: str, now: float) -> Execution:
        return self._committer.run(lambda c: _request_cancel(c, execution_id, now))

    # --- reads -------------------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> Execution | None:
        return _get_execution(self._reader(), execution_id)

    def list_executions(self, where: ExecutionFilter) -> list[Execution]:
        clauses, params = _filter_clauses(where)
        sql = f"SELECT {EXECUTION_COLUMNS} FROM executions"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        rows = self._reader().execute(sql, (*params, where.limit)).fetchall()
        return [execution_from_row(row) for row in rows]

    def operations(self, execution_id: str) -> list[Operation]:
        return _operations(self._reader(), execution_id)

    def history(self, execution_id: str, after_id: int = 0, limit: int = 1000) -> list[HistoryEvent]:
        rows = self._reader().execute(
            f"SELECT {HISTORY_COLUMNS} FROM history WHERE execution_id = ? AND id > ? "
            "ORDER BY id LIMIT ?",
            (execution_id, after_id, limit),
        ).fetchall()
        return [history_from_row(row) for row in rows]

    def next_ready_at(self) -> float | None:
        row = self._reader().execute(
            "SELECT MIN(ready_at) FROM executions WHERE ready_at IS NOT NULL"
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def change_marker(self) -> int:
        # data_version moves when any other connection (in this process or another) commits;
        # reading it touches shared memory only, so idle workers can check it often.
        with self._watch_lock:
            return int(self._watch.execute("PRAGMA data_version").fetchone()[0])


# --- the write transactions (each runs inside the group commit) ---------------------------------


def _get_execution(connection: sqlite3.Connection, execution_id: str) -> Execution | None:
    row = connection.execute(
        f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?", (execution_id,)
    ).fetchone()
    return None if row is None else execution_from_row(row)


def _operations(connection: sqlite3.Connection, execution_id: str) -> list[Operation]:
    rows = connection.execute(
        f"SELECT {OPERATION_COLUMNS} FROM operations WHERE execution_id = ? ORDER BY seq",
        (execution_id,),
    ).fetchall()
    return [operation_from_row(row) for row in rows]


def _create_execution(connection: sqlite3.Connection, new: NewExecution) -> tuple[Execution, bool]:
    leased = new.lease_owner is not None
    expires = new.now + new.lease_seconds if leased else None
    cursor = connection.execute(
        "INSERT INTO executions (id, function, status, input, created_at, ready_at, lease_owner, "
        "lease_expires_at, lease_token, parent_execution_id, parent_operation_id, timeout_at, "
        "invocations) VALUES (?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING",
        (new.id, new.function, new.input, new.now, expires if leased else new.now,
         new.lease_owner, expires, 1 if leased else 0, new.parent_execution_id,
         new.parent_operation_id, new.timeout_at, 1 if leased else 0),
    )
    created = cursor.rowcount == 1
    if created:
        details = {"input": new.input, "function": new.function}
        if new.timeout_at is not None:
            details["timeout_at"] = new.timeout_at  # type: ignore[assignment]
        connection.execute(_INSERT_EVENT, (new.id, "ExecutionStarted", None, None, None,
                                           new.function, new.now, details_text(details)))
    execution = _get_execution(connection, new.id)
    assert execution is not None
    return execution, created


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


def _commit(connection: sqlite3.Connection, write: JournalWrite) -> CommitResult:
    row = connection.execute(
        "SELECT lease_token, status, cancel_requested FROM executions WHERE id = ?",
        (write.execution_id,),
    ).fetchone()
    if row is None or row[0] != write.lease_token or row[1] != "RUNNING":
        raise _lease_lost(write.execution_id, write.lease_token, row)
    if write.operations:
        connection.executemany(
            _UPSERT_OPERATION, [operation_params(write.execution_id, op) for op in write.operations]
        )
    if write.events:
        connection.executemany(_INSERT_EVENT, _event_params(write))
    if write.outcome is not None:
        outcome = write.outcome
        connection.execute(
            "UPDATE executions SET status = ?, result = ?, error = ?, ended_at = ?, "
            "ready_at = NULL, lease_owner = NULL, lease_expires_at = NULL, wake_pending = 0 "
            "WHERE id = ?",
            (outcome.status.value, outcome.result, error_text(outcome.error), write.now,
             write.execution_id),
        )
    elif write.release:
        # Something that arrived while we held the lease (an event, a cancel) must not wait for
        # a timer that may never come: it makes the execution ready at once.
        connection.execute(
            "UPDATE executions SET lease_owner = NULL, lease_expires_at = NULL, wake_pending = 0, "
            "ready_at = CASE WHEN wake_pending = 1 OR cancel_requested = 1 THEN ? ELSE ? END "
            "WHERE id = ?",
            (write.now, write.ready_at, write.execution_id),
        )
    return CommitResult(cancel_requested=bool(row[2]))


def _event_params(write: JournalWrite) -> Iterable[tuple[Any, ...]]:
    for event in write.events:
        yield (write.execution_id, event.type, event.subtype, event.operation_id, event.parent_id,
               event.name, write.now, details_text(event.details))


def _lease_lost(execution_id: str, token: int, row: Any) -> LeaseLost:
    if row is None:
        reason = "the execution does not exist"
    elif row[1] != "RUNNING":
        reason = f"the execution is already {row[1]}"
    else:
        reason = f"another worker holds it now (lease token {row[0]})"
    return LeaseLost(
        f'Execution "{execution_id}": write refused under lease token {token}: {reason}. '
        "The invocation stops; the current holder carries the execution on.",
        execution_id=execution_id, lease_token=token,
    )


def _request_cancel(connection: sqlite3.Connection, execution_id: str, now: float) -> Execution:
    execution = _get_execution(connection, execution_id)
    if execution is None:
        raise UnknownExecution(
            f'No execution "{execution_id}". Check the id with `redwood list`.',
            execution_id=execution_id,
        )
    if execution.status is not ExecutionStatus.RUNNING:
        return execution
    held = execution.lease_owner is not None and (execution.lease_expires_at or 0) > now
    if held:
        connection.execute(
            "UPDATE executions SET cancel_requested = 1, wake_pending = 1 WHERE id = ?",
            (execution_id,),
        )
    else:
        # Nobody runs it: stop it here. Bumping the lease token fences off any worker whose
        # lease lapsed but who has not noticed yet.
        connection.execute(
            "UPDATE executions SET status = 'STOPPED', cancel_requested = 1, ended_at = ?, "
            "ready_at = NULL, lease_owner = NULL, lease_expires_at = NULL, "
            "lease_token = lease_token + 1 WHERE id = ?",
            (now, execution_id),
        )
        connection.execute(_INSERT_EVENT, (execution_id, "ExecutionStopped", None, None, None,
                                           None, now, details_text({"reason": "cancelled"})))
    updated = _get_execution(connection, execution_id)
    assert updated is not None
    return updated


def _filter_clauses(where: ExecutionFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if where.function is not None:
        clauses.append("function = ?")
        params.append(where.function)
    if where.statuses:
        clauses.append(f"status IN ({', '.join('?' for _ in where.statuses)})")
        params.extend(status.value for status in where.statuses)
    if where.created_after is not None:
        clauses.append("created_at >= ?")
        params.append(where.created_after)
    if where.created_before is not None:
        clauses.append("created_at < ?")
        params.append(where.created_before)
    if where.id_contains:
        clauses.append("instr(id, ?) > 0")
        params.append(where.id_contains)
    if where.parent_execution_id is not None:
        clauses.append("parent_execution_id = ?")
        params.append(where.parent_execution_id)
    if where.before_id is not None:
        clauses.append("(created_at, id) < (?, ?)")
        params.extend(where.before_id)
    return clauses, params

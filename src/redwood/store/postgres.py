"""The PostgreSQL store: many workers on many hosts share one database.

Claims take ready executions with ``FOR UPDATE SKIP LOCKED``; every journal write opens with
``redwood_fence`` (a lease check that locks the execution's row), so a write under a stale lease
token is refused whole; commits that make work ready or finish an execution ``pg_notify`` in the
same transaction, and a listener connection turns the notifications into the change marker.
Trees of executions and answers from the outside world run the transactions shared with SQLite
(store/tree.py, store/outside.py) inside ``_transaction``.
"""

from __future__ import annotations

import json
import select
import threading
import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Any, TypeVar

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from redwood.model import (
    Claim,
    Execution,
    ExecutionFilter,
    HistoryEvent,
    InboxEvent,
    LiveWorker,
    Operation,
)
from redwood.store import outside, tree
from redwood.store import pg_sql as sql
from redwood.store import pg_wire as wire
from redwood.store.base import CallbackChange, CommitResult, JournalWrite, NewExecution
from redwood.store.common import (
    POSTGRES,
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
from redwood.store.listener import CONNECTION_OPTIONS, Listener
from redwood.store.migrations import pending
from redwood.store.rows import (
    EXECUTION_COLUMNS,
    details_text,
    error_text,
    event_params,
    execution_from_row,
    history_from_row,
    operation_from_row,
    operation_params,
)
from redwood.types import ExecutionStatus

T = TypeVar("T")
Connection = psycopg.Connection[Any]

# Any constant works: it only has to be the same for every process migrating this database.
_MIGRATION_LOCK = 0x52656477  # "Redw"
_READ_ATTEMPTS = 3
_WRITE_ATTEMPTS = 3
# How many executions this store finished it keeps at hand, unless their input and result are
# longer than this together.
_REMEMBERED = 256
_REMEMBERED_CHARS = 1 << 16
# NaN and infinities are refused where values are encoded; what reaches here is plain JSON.
_json = json.JSONEncoder(separators=(",", ":")).encode


class PostgresStore:
    """Executions, journals and history in PostgreSQL (``postgresql://user@host/dbname``)."""

    def __init__(
        self, url: str, *, min_connections: int = 1, max_connections: int = 20,
        connect_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.transactions = 0  # reads and writes sent so far, one transaction each (benchmarks)
        self._count_lock = threading.Lock()
        with psycopg.connect(url, autocommit=True, **CONNECTION_OPTIONS) as connection:
            self.schema_versions = migrate(connection)
        self._listener = Listener(url)
        # The pool reconnects with back-off after a database restart; the check discards, at no
        # cost, the idle connections the restart closed, so no write is sent down a dead one.
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            url, min_size=min_connections, max_size=max_connections, open=False,
            kwargs={"autocommit": True, **CONNECTION_OPTIONS}, check=_discard_if_closed,
            timeout=connect_timeout, name="redwood",
        )
        self._pool.open(wait=True, timeout=connect_timeout)
        # The server groups concurrent commits itself: an async caller's commit only needs a
        # thread to wait on its connection, one per connection at most.
        self._committers = ThreadPoolExecutor(max_connections, thread_name_prefix="redwood-pg")
        # Checkpoints of concurrent executions share one statement (sql.CHECKPOINTS). The group
        # has one leader at a time, which keeps a connection of its own rather than take one
        # from the pool for every checkpoint.
        self._checkpoints = GroupCommit(self._write_checkpoints, "redwood-pg-checkpoints")
        self._leader_connection: Connection | None = None
        # Executions this store just finished, as committed: a result waiter in this process
        # reads its execution right after the ending, and a finished execution never changes.
        self._finished: dict[str, Execution] = {}
        self._finished_lock = threading.Lock()

    def close(self) -> None:
        self._committers.shutdown(wait=True)
        self._listener.close()
        if self._leader_connection is not None:
            self._pool.putconn(self._leader_connection)
            self._leader_connection = None
        self._pool.close()

    # --- connections -------------------------------------------------------------------------

    def _write(
        self, fn: Callable[[Connection], T],
        connect: Callable[[], AbstractContextManager[Connection]] | None = None,
    ) -> T:
        """Run one write transaction (on a pooled connection, or one from ``connect``). Not
        retried if the connection breaks mid-way (whether it committed is unknown, so the
        caller's invocation ends and the lease decides); retried when PostgreSQL broke a
        deadlock by rolling it back whole."""
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            self._count()
            try:
                with (connect or self._connection)() as connection:
                    return fn(connection)
            except psycopg.errors.DeadlockDetected:
                if attempt == _WRITE_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _read(self, fn: Callable[[Connection], T]) -> T:
        """Run one read; retried on a connection that broke under it (reads are idempotent)."""
        for attempt in range(1, _READ_ATTEMPTS + 1):
            self._count()
            try:
                with self._connection() as connection:
                    return fn(connection)
            except PoolTimeout:
                raise
            except psycopg.OperationalError:
                if attempt == _READ_ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        # Not pool.connection(): its exit sends a COMMIT through psycopg's machinery, which an
        # autocommit connection never needs (_transaction ends its own transactions, and putconn
        # rolls back whatever a failure left open).
        connection = self._pool.getconn()
        try:
            yield connection
        finally:
            self._pool.putconn(connection)

    @contextmanager
    def _leader(self) -> Iterator[Connection]:
        """The group commit leader's connection: the same one every time until it breaks."""
        connection = self._leader_connection
        if connection is not None:
            try:
                _discard_if_closed(connection)  # as the pool checks its idle connections
            except psycopg.OperationalError:
                self._pool.putconn(connection)  # closed: the pool replaces it
                connection = None
        if connection is None:
            connection = self._leader_connection = self._pool.getconn()
        try:
            yield connection
        finally:
            if connection.closed or connection.info.transaction_status is not \
                    TransactionStatus.IDLE:
                self._leader_connection = None
                self._pool.putconn(connection)  # rolled back, or replaced when broken

    def _count(self) -> None:
        with self._count_lock:
            self.transactions += 1

    # --- writes ------------------------------------------------------------------------------

    def create_execution(self, new: NewExecution) -> tuple[Execution, bool]:
        return self._write(lambda c: _create_execution(c, new, wire.execute))

    def claim(self, worker_id: str, now: float, lease_seconds: float, limit: int) -> list[Claim]:
        return self._write(lambda c: _claim(c, worker_id, now, lease_seconds, limit))

    def renew_leases(
        self, worker_id: str, leases: dict[str, int], now: float, lease_seconds: float
    ) -> set[str]:
        if not leases:
            return set()
        ids, tokens = list(leases), list(leases.values())
        expires = now + lease_seconds
        rows = self._write(lambda c: c.execute(
            sql.RENEW, (expires, expires, ids, tokens, worker_id)).fetchall())
        return set(leases) - {row[0] for row in rows}

    def commit(self, write: JournalWrite) -> CommitResult:
        if _groupable(write):
            return self._checkpoints.commit(write)
        return self._write(lambda c: _commit(c, write))

    def submit_commit(self, write: JournalWrite) -> Future[CommitResult]:
        if _groupable(write):
            return self._checkpoints.submit(write)
        return self._committers.submit(self.commit, write)

    def _write_checkpoints(self, batch: list[Request]) -> None:
        """Write a group of checkpoints, one statement per round of distinct executions (a
        statement may write a row only once; two invocations of one execution, the older one's
        lease lapsed, can both have a checkpoint queued)."""
        while batch:
            seen: set[str] = set()
            group: list[Request] = []
            later: list[Request] = []
            for request in batch:
                assert request.journal is not None
                execution_id = request.journal.execution_id
                (later if execution_id in seen else group).append(request)
                seen.add(execution_id)
            self._write_group(group)
            batch = later

    def _write_group(self, group: list[Request]) -> None:
        writes = [request.journal for request in group if request.journal is not None]
        statement, params = _alone(writes[0]) if len(writes) == 1 else (
            sql.CHECKPOINTS, _checkpoint_params(writes))
        rows = self._write(lambda c: wire.execute(c, statement, params), self._leader)
        held: dict[str, bool] = {row[0]: row[1] for row in rows}
        for row in rows:
            if len(row) > 2 and row[2] is not None:
                self._remember(execution_from_row(row[2:]))
        for request, write in zip(group, writes, strict=True):
            if write.execution_id in held:
                request.value = CommitResult(cancel_requested=held[write.execution_id])
            else:
                request.error = self._refused(write)

    def _remember(self, execution: Execution) -> None:
        if len(execution.input or "") + len(execution.result or "") > _REMEMBERED_CHARS:
            return
        with self._finished_lock:
            self._finished[execution.id] = execution
            if len(self._finished) > _REMEMBERED:
                del self._finished[next(iter(self._finished))]  # the oldest

    def _refused(self, write: JournalWrite) -> BaseException:
        current = self._read(
            lambda c: c.execute(sql.LEASE_STATE, (write.execution_id,)).fetchone())
        return lease_lost(write, current)

    def request_cancel(self, execution_id: str, now: float) -> Execution:
        return self._write(lambda c: _request_cancel(c, execution_id, now))

    def update_callback(self, callback_id: str, now: float, change: CallbackChange) -> Execution:
        return self._write(lambda c: _in_transaction(
            c, lambda tx: outside.update_callback(tx, callback_id, now, change)))

    def send_event(
        self, execution_id: str, name: str, payload: str | None, now: float
    ) -> InboxEvent:
        return self._write(lambda c: _in_transaction(
            c, lambda tx: outside.send_event(tx, execution_id, name, payload, now)))

    def heartbeat_worker(self, worker_id: str, info: dict[str, Any], now: float) -> None:
        params = (now - WORKER_ROW_RETENTION, worker_id, worker_id, info_text(info), now, now,
                  worker_alive_until(info, now))
        self._write(lambda c: c.execute(sql.HEARTBEAT, params))

    # --- reads -------------------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> Execution | None:
        finished = self._finished.get(execution_id)
        if finished is not None:
            return finished
        return self._read(lambda c: _get_execution(c, execution_id, wire.execute))

    def list_executions(self, where: ExecutionFilter) -> list[Execution]:
        query, params = list_executions_sql(EXECUTION_COLUMNS, where, POSTGRES)
        rows = self._read(lambda c: c.execute(query, params).fetchall())
        return [execution_from_row(row) for row in rows]

    def count_by_status(self, where: ExecutionFilter) -> dict[ExecutionStatus, int]:
        query, params = count_by_status_sql(where, POSTGRES)
        rows = self._read(lambda c: c.execute(query, params).fetchall())
        return {ExecutionStatus(status): count for status, count in rows}

    def operations(self, execution_id: str) -> list[Operation]:
        rows = self._read(lambda c: c.execute(sql.OPERATIONS, (execution_id,)).fetchall())
        return [operation_from_row(row) for row in rows]

    def history(
        self, execution_id: str, after_id: int = 0, limit: int = 1000
    ) -> list[HistoryEvent]:
        rows = self._read(lambda c: c.execute(
            sql.HISTORY, (execution_id, after_id, limit)).fetchall())
        return [history_from_row(row) for row in rows]

    def operation_history(
        self, execution_id: str, operation_ids: Collection[str]
    ) -> list[HistoryEvent]:
        wanted = list(operation_ids)
        rows = self._read(lambda c: c.execute(
            sql.OPERATION_HISTORY, (execution_id, wanted)).fetchall())
        return [history_from_row(row) for row in rows]

    def latest_event(self, execution_id: str, event_type: str) -> HistoryEvent | None:
        row = self._read(lambda c: c.execute(
            sql.LATEST_EVENT, (execution_id, event_type)).fetchone())
        return None if row is None else history_from_row(row)

    def inbox(self, execution_id: str) -> list[InboxEvent]:
        rows = self._read(lambda c: c.execute(sql.INBOX, (execution_id,)).fetchall())
        return [InboxEvent(*row) for row in rows]

    def next_ready_at(self) -> float | None:
        [(earliest,)] = self._read(lambda c: wire.execute(c, sql.NEXT_READY_AT, ()))
        return None if earliest is None else float(earliest)

    def change_marker(self) -> int:
        return self._listener.marker

    def ready_marker(self) -> int:
        return self._listener.ready_marker

    def watch(self, callback: Callable[[str, bool], None]) -> bool:
        self._listener.callbacks.append(callback)
        return True

    def list_workers(self, now: float) -> list[LiveWorker]:
        def read(connection: Connection) -> list[LiveWorker]:
            with _transaction(connection):
                workers = connection.execute(sql.LIVE_WORKERS, (now,))
                leases = connection.execute(sql.HELD_LEASES, (now, now))
            return live_workers(workers.fetchall(), leases.fetchall())
        return self._read(read)

    def schema(self) -> list[tuple[str, str]]:
        """Every table (its columns), index, constraint and function, for the migration test."""
        rows = self._read(lambda c: c.execute(sql.SCHEMA).fetchall())
        return [(name, definition) for name, definition in rows]


def migrate(connection: Connection, target: int | None = None) -> tuple[int, int]:
    """Apply the migrations the database lacks (up to version ``target``, default all) under an
    advisory lock, so many processes can start at once; return the version before and after."""
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        applied = {row[0] for row in connection.execute("SELECT version FROM schema_version")}
        before = max(applied, default=0)
        for migration in pending(applied, target, "postgres"):
            # No parameters: psycopg sends the file as one simple query, $$ bodies and all.
            connection.execute(migration.sql.encode())
            connection.execute("INSERT INTO schema_version VALUES (%s)", (migration.version,))
            applied.add(migration.version)
    return before, max(applied, default=0)


def _discard_if_closed(connection: Connection) -> None:
    # An idle connection receives nothing; a readable socket means the server closed it (a
    # restart, an idle timeout). Close it so the pool replaces it instead of handing it out.
    poller = select.poll()  # not select(): no limit on descriptor numbers
    poller.register(connection.fileno(), select.POLLIN)
    if poller.poll(0):
        connection.close()
        raise psycopg.OperationalError("the server closed this idle connection")


@contextmanager
def _transaction(connection: Connection) -> Iterator[None]:
    """BEGIN, the block's statements and COMMIT sent as one pipeline: a block that fetches no
    result until it ends costs one round trip."""
    failed: psycopg.Error | None = None
    try:
        with connection.pipeline():
            connection.execute("BEGIN")
            try:
                yield
                connection.execute("COMMIT")
            except psycopg.Error as error:
                # The first error is the cause; the statements after it were skipped, and the
                # pipeline's end reports that again (we let it end quietly and raise the cause).
                failed = error
    except psycopg.Error as error:
        failed = failed or error
    except BaseException:
        _roll_back(connection)
        raise
    if failed is not None:
        _roll_back(connection)
        raise failed


def _roll_back(connection: Connection) -> None:
    if connection.closed or connection.info.transaction_status is TransactionStatus.IDLE:
        return
    try:
        connection.execute("ROLLBACK")
    except psycopg.Error:
        connection.close()  # broken: the pool discards it


# --- the transactions --------------------------------------------------------------------------


def _shared(connection: Connection) -> Transaction:
    """A connection inside ``_transaction``, for the transactions shared with SQLite."""
    return Transaction(connection, POSTGRES, partial(
        _create_execution, connection, run=wire.execute_in_transaction))


def _in_transaction(connection: Connection, fn: Callable[[Transaction], T]) -> T:
    with _transaction(connection):
        return fn(_shared(connection))


# Runs one statement: wire.execute outside a transaction, wire.execute_in_transaction inside one.
Run = Callable[[Connection, wire.Statement, tuple[Any, ...]], list[wire.Row]]


def _get_execution(connection: Connection, execution_id: str, run: Run) -> Execution | None:
    rows = run(connection, sql.GET_EXECUTION, (execution_id,))
    return execution_from_row(rows[0]) if rows else None


def _create_execution(
    connection: Connection, new: NewExecution, run: Run
) -> tuple[Execution, bool]:
    leased = new.lease_owner is not None
    expires = new.now + new.lease_seconds if leased else None
    # One statement: the row, its ExecutionStarted event, and (when it is ready now) the
    # notification. A leased start runs at once in this process: nobody else needs waking.
    query = sql.CREATE_LEASED if leased else sql.CREATE_READY
    rows = run(connection, query, (
        new.id, new.function, new.input, new.now, expires if leased else new.now,
        new.lease_owner, expires, 1 if leased else 0, new.parent_execution_id,
        new.parent_operation_id, new.timeout_at, 1 if leased else 0,
        new.now, details_text(started_details(new)),
    ))
    if rows:
        return execution_from_row(rows[0]), True
    existing = _get_execution(connection, new.id, run)
    assert existing is not None
    return existing, False


def _claim(
    connection: Connection, worker_id: str, now: float, lease_seconds: float, limit: int
) -> list[Claim]:
    expires = now + lease_seconds
    with _transaction(connection):
        rows = connection.execute(sql.CLAIM, (now, limit, worker_id, expires, expires)).fetchall()
        # A second statement, so a second snapshot taken after the rows were locked: a write
        # that a lapsed holder committed just before the claim is in the journal we load.
        journal = connection.execute(sql.JOURNALS, ([row[0] for row in rows],))
    executions = [execution_from_row(row) for row in rows]
    operations: dict[str, list[Operation]] = {execution.id: [] for execution in executions}
    for row in journal.fetchall():
        operations[row[0]].append(operation_from_row(row[1:]))
    return [Claim(execution, execution.lease_token, operations[execution.id])
            for execution in executions]


def _groupable(write: JournalWrite) -> bool:
    """A checkpoint that touches only its own execution (most of them): it can share one
    statement with other executions' checkpoints."""
    return not write.consumed_events and not write.start_children \
        and not write.stop_children and (write.outcome is None or write.alone)


def _checkpoint_params(writes: list[JournalWrite]) -> tuple[str, ...]:
    """The JSON documents of sql.CHECKPOINTS: the leases, the operation rows, the history rows
    (each row numbered, so it is written in the order given), the endings and the releases."""
    leases = [{"id": w.execution_id, "token": w.lease_token, "now": w.now} for w in writes]
    operations = [operation_params(w.execution_id, op) for w in writes for op in w.operations]
    events = [params for w in writes for params in event_params(w.execution_id, w.now, w.events)]
    endings = [{"id": w.execution_id, "status": w.outcome.status.value,
                "result": w.outcome.result, "error": error_text(w.outcome.error), "now": w.now}
               for w in writes if w.outcome is not None]
    releases = [{"id": w.execution_id, "now": w.now, "ready_at": w.ready_at,
                 "blocked_on": None if w.blocked_on is None else w.blocked_on.value}
                for w in writes if w.outcome is None and w.release]
    return (_json(leases), _json(_numbered(sql.OPERATION_FIELDS, operations)),
            _json(_numbered(sql.EVENT_FIELDS, events)), _json(endings), _json(releases))


def _alone(write: JournalWrite) -> tuple[wire.Statement, tuple[Any, ...]]:
    """The statement and parameters of a checkpoint written alone (sql.CHECKPOINT_ALONE)."""
    operations = [dict(zip(sql.ALONE_OPERATION_FIELDS, operation_params(write.execution_id, op)[1:],
                           strict=True)) for op in write.operations]
    events = [{"type": event.type, "subtype": event.subtype, "operation_id": event.operation_id,
               "parent_id": event.parent_id, "name": event.name,
               "details": details_text(event.details), "result_from": event.result_from}
              for event in write.events]
    common = (write.execution_id, write.lease_token, write.now, _json(operations), write.now,
              _json(events))
    outcome = write.outcome
    if outcome is not None:
        return sql.FINISH_ALONE, (*common, outcome.status.value, outcome.result,
                                  error_text(outcome.error), write.now)
    if write.release:
        blocked = None if write.blocked_on is None else write.blocked_on.value
        return sql.RELEASE_ALONE, (*common, write.now, write.ready_at, blocked, write.now)
    return sql.CHECKPOINT_ALONE, common


def _numbered(fields: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [{"n": n, **dict(zip(fields, row, strict=True))} for n, row in enumerate(rows)]


def _commit(connection: Connection, write: JournalWrite) -> CommitResult:
    tx = _shared(connection)
    try:
        with _transaction(connection):
            if write.outcome is not None:
                # The ending flows up to the parent: lock it first, as everyone does (tree.py).
                connection.execute(sql.LOCK_PARENT, (write.execution_id,))
            fence = connection.execute(sql.FENCE, (write.execution_id, write.lease_token,
                                                   write.now))
            if write.consumed_events:
                outside.consume_events(tx, write)
            cursor = connection.cursor()
            if write.operations:
                cursor.executemany(sql.UPSERT_OPERATION, [
                    operation_params(write.execution_id, op) for op in write.operations])
            if write.events:
                cursor.executemany(sql.INSERT_EVENT, list(
                    event_params(write.execution_id, write.now, write.events)))
            if write.outcome is not None:
                outcome = write.outcome
                connection.execute(sql.FINISH, (
                    outcome.status.value, outcome.result, error_text(outcome.error), write.now,
                    write.execution_id))
            elif write.release:
                blocked = None if write.blocked_on is None else write.blocked_on.value
                connection.execute(sql.RELEASE, (
                    write.now, write.ready_at, blocked, write.execution_id, write.now))
            if write.start_children or write.stop_children or write.outcome is not None:
                tree.change_tree(tx, write)
    except psycopg.Error as error:
        if error.sqlstate != sql.STALE_LEASE:
            raise
        current = connection.execute(sql.LEASE_STATE, (write.execution_id,)).fetchone()
        raise lease_lost(write, current) from None
    row = fence.fetchone()
    return CommitResult(cancel_requested=bool(row and row[0]))


def _request_cancel(connection: Connection, execution_id: str, now: float) -> Execution:
    with _transaction(connection):
        # Stopping it flows up to its parent: lock that first, as everyone does (tree.py).
        connection.execute(sql.LOCK_PARENT, (execution_id,))
        return tree.request_cancel(_shared(connection), execution_id, now)

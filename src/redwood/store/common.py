"""SQL shared by the SQL stores (SQLite and PostgreSQL): statements, query building, messages,
and the view of an open write transaction that the shared transactions (``tree``, ``outside``)
are written against.

The dialects differ in placeholders and a few functions; ``Dialect`` names those differences so
the query shapes themselves are written once, with ``?`` placeholders (``Dialect.sql`` turns them
into the dialect's).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from redwood.errors import LeaseLost, UnknownExecution, ValidationError
from redwood.model import Execution, ExecutionFilter, LiveWorker
from redwood.store.base import JournalWrite, NewExecution
from redwood.store.rows import (
    EXECUTION_COLUMNS,
    HISTORY_COLUMNS,
    HISTORY_FROM,
    OPERATION_COLUMNS,
    execution_from_row,
)
from redwood.types import BlockedKind

DEFAULT_WORKER_LEASE = 30.0
# Rows of workers that stopped or died longer ago than this are removed by the next heartbeat.
WORKER_ROW_RETENTION = 24 * 3600.0
# The PostgreSQL LISTEN/NOTIFY channel; each notification carries one execution id.
CHANNEL = "redwood"
# Executions that finished: news for result waiters only, so idle workers sleep through them.
FINISHED_CHANNEL = "redwood_finished"


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the SQL dialects in the shared query shapes."""

    param: str
    contains: str  # a predicate on the id column taking one parameter: "the id contains it"
    least: str  # the function giving the smaller of two values
    lock: str  # appended to a SELECT: its rows stay locked until the transaction ends
    callback_id: str  # a CALLBACK operation's callback id, as operations_callback_id indexes it
    notify: str | None  # announces one execution id to listeners (None: nobody listens)

    def sql(self, text: str) -> str:
        """``text``, written with ``?`` placeholders, in this dialect."""
        return text if self.param == "?" else text.replace("?", self.param)


# SQLite needs no row locks: one writer at a time holds the whole database.
SQLITE = Dialect(param="?", contains="instr(id, ?) > 0", least="MIN", lock="",
                 callback_id="json_extract(details, '$.callback_id')", notify=None)
POSTGRES = Dialect(param="%s", contains="strpos(id, %s) > 0", least="LEAST", lock=" FOR UPDATE",
                   callback_id="((details::jsonb) ->> 'callback_id')",
                   notify=f"SELECT pg_notify('{CHANNEL}', %s)")


class Rows(Protocol):
    """What a statement returns (a DB-API cursor)."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """A DB-API connection, as far as the shared transactions use it."""

    def execute(self, sql: str, params: tuple[Any, ...], /) -> Rows: ...


@dataclass(frozen=True, slots=True)
class Transaction:
    """An open write transaction of a SQL store, as the transactions shared by both dialects
    see it (store/tree.py, store/outside.py). Everything they do commits or aborts together."""

    connection: Connection
    dialect: Dialect
    # Store.create_execution inside this transaction (each store has its own statements).
    create: Callable[[NewExecution], tuple[Execution, bool]]

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Rows:
        """Run one statement written in the dialect."""
        return self.connection.execute(sql, params)

    def create_execution(self, new: NewExecution) -> tuple[Execution, bool]:
        """Create the execution as ``Store.create_execution`` does, in this transaction."""
        return self.create(new)


def get_execution(tx: Transaction, execution_id: str, lock: bool = False) -> Execution | None:
    """One execution as this transaction sees it; ``lock`` keeps its row until the end."""
    query = GET_EXECUTION + tx.dialect.lock if lock else GET_EXECUTION
    row = tx.execute(tx.dialect.sql(query), (execution_id,)).fetchone()
    return None if row is None else execution_from_row(row)


def notify(tx: Transaction, execution_id: str) -> None:
    """Tell the listeners of every process, when the transaction commits, that the execution
    became ready or finished."""
    if tx.dialect.notify is not None:
        tx.execute(tx.dialect.notify, (execution_id,))


def started_details(new: NewExecution) -> dict[str, Any]:
    """The details of a new execution's ExecutionStarted event."""
    details: dict[str, Any] = {"input": new.input, "function": new.function}
    if new.timeout_at is not None:
        details["timeout_at"] = new.timeout_at
    if new.parent_execution_id is not None:
        details["parent_execution_id"] = new.parent_execution_id
        details["parent_operation_id"] = new.parent_operation_id
    return details


# --- statements written once for both dialects (``?`` placeholders) -----------------------------

GET_EXECUTION = f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?"
OPERATIONS = f"SELECT {OPERATION_COLUMNS} FROM operations WHERE execution_id = ? ORDER BY seq"
# The parts of the journal's writes that other statements build on (pg_sql.py's checkpoints).
INSERT_OPERATIONS = (
    "INSERT INTO operations (execution_id, id, parent_id, type, subtype, name, status, attempt, "
    "result, error, due_at, started_at, ended_at, details)"
)
OPERATION_CONFLICT = (
    "ON CONFLICT (execution_id, id) DO UPDATE SET status = excluded.status, "
    "attempt = excluded.attempt, result = excluded.result, error = excluded.error, "
    "due_at = excluded.due_at, started_at = excluded.started_at, ended_at = excluded.ended_at, "
    "details = excluded.details"
)
INSERT_EVENTS = (
    "INSERT INTO history (execution_id, type, subtype, operation_id, parent_id, name, timestamp, "
    "details, result_from)"
)
UPSERT_OPERATION = (
    f"{INSERT_OPERATIONS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {OPERATION_CONFLICT}"
)
INSERT_EVENT = f"{INSERT_EVENTS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
HISTORY = (
    f"SELECT {HISTORY_COLUMNS} FROM {HISTORY_FROM} WHERE h.execution_id = ? AND h.id > ? "
    "ORDER BY h.id LIMIT ?"
)
LATEST_EVENT = (
    f"SELECT {HISTORY_COLUMNS} FROM {HISTORY_FROM} WHERE h.execution_id = ? AND h.type = ? "
    "ORDER BY h.id DESC LIMIT 1"
)
INBOX = (
    "SELECT id, execution_id, name, payload, sent_at FROM inbox "
    "WHERE execution_id = ? AND consumed_by IS NULL ORDER BY id"
)
NEXT_READY_AT = "SELECT MIN(ready_at) FROM executions WHERE ready_at IS NOT NULL"
LIVE_WORKERS = (
    "SELECT id, info, started_at, heartbeat_at FROM workers WHERE alive_until > ? ORDER BY id"
)
HELD_LEASES = (
    "SELECT lease_owner, id FROM executions WHERE ready_at > ? AND lease_owner IS NOT NULL "
    "AND lease_expires_at > ?"
)


def filter_clauses(where: ExecutionFilter, dialect: Dialect) -> tuple[list[str], list[Any]]:
    """The WHERE clauses (joined by AND) and their parameters for listing executions."""
    p = dialect.param
    clauses: list[str] = []
    params: list[Any] = []
    if where.function is not None:
        clauses.append(f"function = {p}")
        params.append(where.function)
    if where.statuses:
        clauses.append(f"status IN ({', '.join(p for _ in where.statuses)})")
        params.extend(status.value for status in where.statuses)
    if where.created_after is not None:
        clauses.append(f"created_at >= {p}")
        params.append(where.created_after)
    if where.created_before is not None:
        clauses.append(f"created_at < {p}")
        params.append(where.created_before)
    if where.id_contains:
        clauses.append(dialect.contains)
        params.append(where.id_contains)
    if where.parent_execution_id is not None:
        clauses.append(f"parent_execution_id = {p}")
        params.append(where.parent_execution_id)
    if where.blocked_on is not None:
        clause, extra = blocked_clause(where.blocked_on, where.now, p)
        clauses.append(clause)
        params.extend(extra)
    if where.before_id is not None:
        clauses.append(f"(created_at, id) < ({p}, {p})")
        params.extend(where.before_id)
    return clauses, params


def list_executions_sql(
    columns: str, where: ExecutionFilter, dialect: Dialect
) -> tuple[str, list[Any]]:
    """The listing query, newest first, with its parameters."""
    clauses, params = filter_clauses(where, dialect)
    sql = f"SELECT {columns} FROM executions"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += f" ORDER BY created_at DESC, id DESC LIMIT {dialect.param}"
    return sql, [*params, where.limit]


def count_by_status_sql(where: ExecutionFilter, dialect: Dialect) -> tuple[str, list[Any]]:
    """The query counting the executions ``where`` matches per status (its statuses and paging
    ignored), with its parameters."""
    clauses, params = filter_clauses(replace(where, statuses=(), before_id=None), dialect)
    sql = "SELECT status, COUNT(*) FROM executions"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    return sql + " GROUP BY status", params


def lease_lost(write: JournalWrite, current: Sequence[Any] | None) -> LeaseLost:
    """The refusal of a write under a stale or expired lease; ``current`` is the execution's
    (lease token, status, lease expiry) now."""
    token = write.lease_token
    if current is None:
        reason = "the execution does not exist"
    elif current[1] != "RUNNING":
        reason = f"the execution is already {current[1]}"
    elif current[0] != token:
        reason = f"another worker holds it now (lease token {current[0]})"
    else:
        # Renewals failed or came too late (a database restart, a long pause): once expired,
        # the execution may be claimed by any worker at any moment.
        reason = f"the lease expired at {current[2]}, before this write at {write.now}"
    return LeaseLost(
        f'Execution "{write.execution_id}": write refused under lease token {token}: {reason}. '
        "The invocation stops; the execution's next holder carries it on from what is recorded.",
        execution_id=write.execution_id, lease_token=token,
    )


def unknown_execution(execution_id: str) -> UnknownExecution:
    """The error for an id no execution has."""
    return UnknownExecution(
        f'No execution "{execution_id}". Check the id with `redwood list`.',
        execution_id=execution_id,
    )


def worker_alive_until(info: dict[str, Any], now: float) -> float:
    """Until when a heartbeat vouches for its worker: one lease, or nothing once it stopped."""
    if info.get("stopped"):
        return now
    return now + float(info.get("lease_seconds") or DEFAULT_WORKER_LEASE)


def info_text(info: dict[str, Any]) -> str:
    """The stored form of a worker's announced info."""
    return json.dumps(info, separators=(",", ":"), sort_keys=True)


def live_workers(
    rows: list[tuple[Any, ...]], leases: list[tuple[Any, ...]]
) -> list[LiveWorker]:
    """LiveWorker values from worker rows (id, info, started_at, heartbeat_at) and the
    (lease_owner, execution id) pairs of unexpired leases."""
    held: dict[str, list[str]] = {}
    for owner, execution_id in leases:
        held.setdefault(owner, []).append(execution_id)
    return [
        LiveWorker(id=row[0], info=json.loads(row[1]), started_at=row[2], heartbeat_at=row[3],
                   leases=tuple(sorted(held.get(row[0], ()))))
        for row in rows
    ]


def blocked_clause(kind: BlockedKind, now: float | None, mark: str = "?") -> tuple[str, list[Any]]:
    """The condition for "blocked on ``kind`` at ``now``" (the rules of engine/blocked.py).

    A live lease means running and an expired one a dead worker, whatever was recorded; with no
    lease, a due ``ready_at`` means ready but unclaimed; otherwise the recorded wait counts.
    """
    if now is None:
        raise ValidationError(
            f"Filtering executions by blocked-on {kind.value!r} needs the current time: set "
            "ExecutionFilter.now.",
            blocked_on=kind.value,
        )
    running = "status = 'RUNNING'"
    if kind is BlockedKind.RUNNING:
        return f"{running} AND lease_owner IS NOT NULL AND lease_expires_at > {mark}", [now]
    if kind is BlockedKind.LEASE_EXPIRED:
        # ready_at equals the lease expiry while leased: the clause can use the ready_at index.
        return (f"{running} AND lease_owner IS NOT NULL AND ready_at <= {mark} "
                f"AND lease_expires_at <= {mark}", [now, now])
    if kind is BlockedKind.READY:
        return f"{running} AND lease_owner IS NULL AND ready_at <= {mark}", [now]
    assert kind.recorded, kind
    return (f"{running} AND blocked_on = {mark} AND lease_owner IS NULL "
            f"AND (ready_at IS NULL OR ready_at > {mark})", [kind.value, now])

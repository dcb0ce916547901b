"""SQL building and messages shared by the SQL stores (SQLite and PostgreSQL).

The dialects differ in placeholders and a few functions; ``Dialect`` names those differences so
the query shapes themselves are written once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redwood.errors import LeaseLost, UnknownExecution, ValidationError
from redwood.model import ExecutionFilter, LiveWorker
from redwood.types import BlockedKind

DEFAULT_WORKER_LEASE = 30.0
# Rows of workers that stopped or died longer ago than this are removed by the next heartbeat.
WORKER_ROW_RETENTION = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the SQL dialects in the shared query shapes."""

    param: str
    contains: str  # a predicate on the id column taking one parameter: "the id contains it"


SQLITE = Dialect(param="?", contains="instr(id, ?) > 0")
POSTGRES = Dialect(param="%s", contains="strpos(id, %s) > 0")


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


def lease_lost(execution_id: str, token: int, current: tuple[int, str] | None) -> LeaseLost:
    """The refusal of a write under a stale lease token; ``current`` is (token, status) now."""
    if current is None:
        reason = "the execution does not exist"
    elif current[1] != "RUNNING":
        reason = f"the execution is already {current[1]}"
    else:
        reason = f"another worker holds it now (lease token {current[0]})"
    return LeaseLost(
        f'Execution "{execution_id}": write refused under lease token {token}: {reason}. '
        "The invocation stops; the current holder carries the execution on.",
        execution_id=execution_id, lease_token=token,
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

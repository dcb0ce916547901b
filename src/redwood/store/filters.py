"""The WHERE clause of the execution list, shared by the SQL stores (dialects differ a little)."""

from __future__ import annotations

from typing import Any

from redwood.errors import ValidationError
from redwood.model import ExecutionFilter
from redwood.types import BlockedKind

_MARK = {"sqlite": "?", "postgres": "%s"}
_CONTAINS = {"sqlite": "instr(id, ?) > 0", "postgres": "strpos(id, %s) > 0"}


def filter_clauses(where: ExecutionFilter, dialect: str = "sqlite") -> tuple[list[str], list[Any]]:
    """Conditions (joined with AND by the caller) and their parameters, for ``where``."""
    mark = _MARK[dialect]
    clauses: list[str] = []
    params: list[Any] = []
    if where.function is not None:
        clauses.append(f"function = {mark}")
        params.append(where.function)
    if where.statuses:
        clauses.append(f"status IN ({', '.join(mark for _ in where.statuses)})")
        params.extend(status.value for status in where.statuses)
    if where.created_after is not None:
        clauses.append(f"created_at >= {mark}")
        params.append(where.created_after)
    if where.created_before is not None:
        clauses.append(f"created_at < {mark}")
        params.append(where.created_before)
    if where.id_contains:
        clauses.append(_CONTAINS[dialect])
        params.append(where.id_contains)
    if where.parent_execution_id is not None:
        clauses.append(f"parent_execution_id = {mark}")
        params.append(where.parent_execution_id)
    if where.blocked_on is not None:
        clause, extra = blocked_clause(where.blocked_on, where.now, mark)
        clauses.append(clause)
        params.extend(extra)
    if where.before_id is not None:
        clauses.append(f"(created_at, id) < ({mark}, {mark})")
        params.extend(where.before_id)
    return clauses, params


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

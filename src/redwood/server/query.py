"""Query parameters of list and history requests: parsed, checked, and turned into filters."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from starlette.datastructures import QueryParams

from redwood.model import ExecutionFilter
from redwood.server.errors import ApiError
from redwood.types import BlockedKind, ExecutionStatus

E = TypeVar("E", bound=StrEnum)

MAX_PAGE = 500
DEFAULT_PAGE = 50
MAX_HISTORY_PAGE = 1000
DEFAULT_HISTORY_PAGE = 200


class HistoryFilter(StrEnum):
    """Which history events a page keeps."""

    ALL = "all"
    FAILED = "failed"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """A page of history: events after ``after``, at most ``limit`` of them, filtered."""

    after: int
    limit: int
    only: HistoryFilter


def invalid(parameter: str, value: str, rule: str) -> ApiError:
    """A 400 naming the parameter, what it got, and the rule."""
    return ApiError(400, "invalid_request",
                    f"Query parameter {parameter!r} = {value!r} is invalid: {rule}.",
                    parameter=parameter)


def execution_filter(params: QueryParams, now: float) -> ExecutionFilter:
    """The list filter a request asks for (see the /executions parameters in openapi.json)."""
    statuses: list[ExecutionStatus] = []
    for raw in params.getlist("status"):
        for item in filter(None, (part.strip() for part in raw.split(","))):
            statuses.append(_enum(ExecutionStatus, "status", item.upper()))
    blocked = params.get("blocked_on") or None
    return ExecutionFilter(
        function=params.get("function") or None,
        statuses=tuple(dict.fromkeys(statuses)),
        created_after=_moment(params, "created_after"),
        created_before=_moment(params, "created_before"),
        id_contains=params.get("id_contains") or None,
        limit=bounded_int(params, "limit", DEFAULT_PAGE, 1, MAX_PAGE),
        before_id=decode_cursor(params["cursor"]) if params.get("cursor") else None,
        blocked_on=_enum(BlockedKind, "blocked_on", blocked) if blocked else None,
        now=now,
    )


def history_query(params: QueryParams) -> HistoryQuery:
    """The history page a request asks for."""
    only = params.get("filter") or HistoryFilter.ALL.value
    return HistoryQuery(
        after=bounded_int(params, "after", 0, 0, 2**62),
        limit=bounded_int(params, "limit", DEFAULT_HISTORY_PAGE, 1, MAX_HISTORY_PAGE),
        only=_enum(HistoryFilter, "filter", only),
    )


def bounded_int(params: QueryParams, name: str, default: int, low: int, high: int) -> int:
    """An integer parameter within [low, high]."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, raw, "it must be an integer") from None
    if not low <= value <= high:
        raise invalid(name, raw, f"it must be between {low} and {high}")
    return value


def encode_cursor(created_at: float, execution_id: str) -> str:
    """An opaque cursor for the page after the execution (keyset on created_at, id)."""
    raw = json.dumps([created_at, execution_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The keyset position a cursor stands for."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, execution_id = json.loads(raw)
        if isinstance(created_at, int | float) and isinstance(execution_id, str):
            return float(created_at), execution_id
    except (ValueError, TypeError, binascii.Error):
        pass
    raise invalid("cursor", cursor[:80], "pass back the next_cursor of a previous page unchanged")


def _moment(params: QueryParams, name: str) -> float | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid(name, raw, "use epoch seconds or an ISO 8601 time such as "
                      "2030-01-31T12:00:00+00:00") from None
    return moment.timestamp()


def _enum(kind: type[E], name: str, raw: str) -> E:
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise invalid(name, raw, f"use one of {allowed}") from None

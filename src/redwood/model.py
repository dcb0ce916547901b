"""Values that cross the seam and the store: executions, operations, updates, history events."""

from __future__ import annotations

import traceback
from dataclasses import field
from typing import Any

from redwood.records import record
from redwood.types import (
    BlockedKind,
    ExecutionStatus,
    OperationAction,
    OperationStatus,
    OperationType,
)

# Errors are recorded in full up to this size; a huge message or traceback must not make the
# failure itself unrecordable.
MAX_ERROR_TEXT = 16 * 1024


def _clip(text: str) -> str:
    if len(text) <= MAX_ERROR_TEXT:
        return text
    half = MAX_ERROR_TEXT // 2
    return f"{text[:half]}\n... [{len(text) - MAX_ERROR_TEXT} characters cut] ...\n{text[-half:]}"


@record
class ErrorRecord:
    """A failure as recorded: the exception's qualified type, its MRO, message and traceback.

    ``data`` and ``stack_trace`` are kept as given by SDKs that send them (the AWS ErrorObject's
    ErrorData and StackTrace), so such an SDK reads back exactly the error it recorded.
    """

    type: str
    message: str
    mro: tuple[str, ...] = ()
    traceback: str | None = None
    data: str | None = None
    stack_trace: tuple[str, ...] | None = None

    @classmethod
    def from_exception(cls, error: BaseException) -> ErrorRecord:
        """Record ``error`` so it can be shown and matched after a replay in another process."""
        # Exception and BaseException stay in: StepFailed.matches(Exception) must hold.
        mro = tuple(
            f"{c.__module__}.{c.__qualname__}" for c in type(error).__mro__ if c is not object
        )
        text = "".join(traceback.format_exception(error)) if error.__traceback__ else None
        return cls(type=mro[0] if mro else type(error).__qualname__,
                   message=_clip(str(error)), mro=mro,
                   traceback=None if text is None else _clip(text))

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        stored: dict[str, Any] = {"type": self.type, "message": self.message,
                                  "mro": list(self.mro), "traceback": self.traceback}
        if self.data is not None:
            stored["data"] = self.data
        if self.stack_trace is not None:
            stored["stack_trace"] = list(self.stack_trace)
        return stored

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ErrorRecord:
        """Read the stored form back."""
        stack = data.get("stack_trace")
        return cls(type=data["type"], message=data["message"], mro=tuple(data.get("mro", ())),
                   traceback=data.get("traceback"), data=data.get("data"),
                   stack_trace=None if stack is None else tuple(stack))


@record
class Operation:
    """One durable call of an execution as the journal holds it."""

    id: str
    parent_id: str | None
    type: OperationType
    subtype: str | None
    name: str | None
    status: OperationStatus
    attempt: int = 0
    result: str | None = None
    error: ErrorRecord | None = None
    due_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


@record
class OperationUpdate:
    """One change the SDK asks for in a checkpoint (the AWS OperationUpdate shape)."""

    id: str
    parent_id: str | None
    type: OperationType
    action: OperationAction
    name: str | None = None
    subtype: str | None = None
    payload: str | None = None
    error: ErrorRecord | None = None
    delay: float | None = None
    details: dict[str, Any] | None = None


@record
class HistoryEvent:
    """One entry of an execution's append-only event log (the AWS history vocabulary)."""

    id: int
    execution_id: str
    type: str
    timestamp: float
    subtype: str | None = None
    operation_id: str | None = None
    parent_id: str | None = None
    name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@record
class NewEvent:
    """A history event before the store has given it an id. ``result_from`` names the row
    whose recorded result the event shows (``RESULT_FROM_OPERATION`` or
    ``RESULT_FROM_EXECUTION``): the store keeps that result once, and history reads put it back
    into the details as ``result``."""

    type: str
    subtype: str | None = None
    operation_id: str | None = None
    parent_id: str | None = None
    name: str | None = None
    details: dict[str, Any] | None = None
    result_from: str | None = None


# A result is recorded once, on its operation (or execution) row; an event that shows it refers
# to that row instead of holding a second copy (a large result would be written twice).
RESULT_FROM_OPERATION = "operation"
RESULT_FROM_EXECUTION = "execution"


@record
class Execution:
    """One run of a durable function."""

    id: str
    function: str
    status: ExecutionStatus
    input: str | None
    created_at: float
    result: str | None = None
    error: ErrorRecord | None = None
    ended_at: float | None = None
    ready_at: float | None = None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    lease_token: int = 0
    cancel_requested: bool = False
    parent_execution_id: str | None = None
    parent_operation_id: str | None = None
    timeout_at: float | None = None
    invocations: int = 0
    blocked_on: BlockedKind | None = None


@record
class Claim:
    """An execution a worker now holds under a lease, with its journal loaded in one query."""

    execution: Execution
    lease_token: int
    operations: list[Operation]


@record
class ExecutionFilter:
    """What ``list`` returns: by function, status, blocked-on and creation time (all optional).

    ``blocked_on`` needs ``now``: whether a lease has expired or a timer is due depends on it.
    """

    function: str | None = None
    statuses: tuple[ExecutionStatus, ...] = ()
    created_after: float | None = None
    created_before: float | None = None
    id_contains: str | None = None
    parent_execution_id: str | None = None
    limit: int = 100
    before_id: tuple[float, str] | None = None
    blocked_on: BlockedKind | None = None
    now: float | None = None


@record
class InboxEvent:
    """A named event sent to an execution, kept in its inbox until a ``wait_for_event`` takes it."""

    id: int
    execution_id: str
    name: str
    payload: str | None
    sent_at: float


@record
class LiveWorker:
    """A worker whose last heartbeat still vouches for it, with the leases it holds now.

    ``info`` is what the worker announced (host, pid, concurrency, in_flight, lease_seconds).
    """

    id: str
    info: dict[str, Any]
    started_at: float
    heartbeat_at: float
    leases: tuple[str, ...] = ()

    @property
    def load(self) -> float:
        """Running invocations as a share of the worker's concurrency (0.0 to 1.0)."""
        concurrency = self.info.get("concurrency") or 0
        return float(self.info.get("in_flight") or 0) / concurrency if concurrency else 0.0

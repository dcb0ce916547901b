"""The operation model shared by the SDK, the engine and the store (same names as AWS)."""

from __future__ import annotations

from enum import StrEnum


class OperationType(StrEnum):
    """What kind of durable call an operation is."""

    EXECUTION = "EXECUTION"
    CONTEXT = "CONTEXT"
    STEP = "STEP"
    WAIT = "WAIT"
    CALLBACK = "CALLBACK"
    CHAINED_INVOKE = "CHAINED_INVOKE"


class OperationStatus(StrEnum):
    """Where an operation is in its life."""

    STARTED = "STARTED"
    PENDING = "PENDING"
    READY = "READY"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"

    @property
    def finished(self) -> bool:
        """True once the operation can no longer change."""
        return self in _FINISHED_OPERATION


_FINISHED_OPERATION = frozenset(
    {
        OperationStatus.SUCCEEDED,
        OperationStatus.FAILED,
        OperationStatus.CANCELLED,
        OperationStatus.TIMED_OUT,
        OperationStatus.STOPPED,
    }
)


class OperationAction(StrEnum):
    """What a checkpoint update asks the engine to do with an operation."""

    START = "START"
    SUCCEED = "SUCCEED"
    FAIL = "FAIL"
    RETRY = "RETRY"
    CANCEL = "CANCEL"


class ExecutionStatus(StrEnum):
    """Where an execution is in its life."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"

    @property
    def finished(self) -> bool:
        """True once the execution has its final result."""
        return self is not ExecutionStatus.RUNNING


class StepSemantics(StrEnum):
    """How often a step body may run per attempt."""

    AT_LEAST_ONCE_PER_RETRY = "AT_LEAST_ONCE_PER_RETRY"
    AT_MOST_ONCE_PER_RETRY = "AT_MOST_ONCE_PER_RETRY"


class Durability(StrEnum):
    """What a committed checkpoint survives (see the README's durability table)."""

    OS_CRASH = "os-crash"
    PROCESS_CRASH = "process-crash"
    NONE = "none"


class BlockedKind(StrEnum):
    """What a running execution waits for now (see engine/blocked.py and docs/dashboard.md)."""

    RUNNING = "running"
    TIMER = "timer"
    CALLBACK = "callback"
    EVENT = "event"
    CHILDREN = "children"
    RETRY = "retry"
    READY = "ready"
    LEASE_EXPIRED = "lease_expired"

    @property
    def recorded(self) -> bool:
        """True for the kinds stored at release time; the others follow from the lease columns."""
        return self in _RECORDED_BLOCKED


_RECORDED_BLOCKED = frozenset(
    {BlockedKind.TIMER, BlockedKind.CALLBACK, BlockedKind.EVENT, BlockedKind.CHILDREN,
     BlockedKind.RETRY}
)


# Subtypes of the operations that wait on the outside world (the names in the AWS history).
WAIT_FOR_EVENT = "WaitForEvent"
WAIT_FOR_CALLBACK = "WaitForCallback"
WAIT_FOR_CONDITION = "WaitForCondition"

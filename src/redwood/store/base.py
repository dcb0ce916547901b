"""The storage seam: everything the engine needs from a database, and nothing more."""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import Future
from typing import Any, Protocol

from redwood.model import (
    Claim,
    ErrorRecord,
    Execution,
    ExecutionFilter,
    HistoryEvent,
    InboxEvent,
    LiveWorker,
    NewEvent,
    Operation,
)
from redwood.records import record
from redwood.types import BlockedKind, ExecutionStatus


@record
class NewExecution:
    """An execution to create; ``lease_owner`` set means it starts already claimed by that
    worker."""

    id: str
    function: str
    input: str | None
    now: float
    parent_execution_id: str | None = None
    parent_operation_id: str | None = None
    timeout_at: float | None = None
    lease_owner: str | None = None
    lease_seconds: float = 0.0


@record
class Outcome:
    """How an execution ended."""

    status: ExecutionStatus
    result: str | None = None
    error: ErrorRecord | None = None


@record
class JournalWrite:
    """One checkpoint batch of one execution, written atomically under its lease token.

    ``release`` ends the invocation: the lease is dropped and the execution is next ready at
    ``ready_at`` (None: only the outside world can wake it). ``blocked_on`` records what
    it waits for. ``outcome`` finishes it.
    ``consumed_events`` are the inbox events (event id, receiving operation id) the invocation
    delivered to its ``wait_for_event`` operations: each is taken out of the inbox for good.

    Trees of executions, in the same transaction: ``start_children`` are invoked executions to
    create (unless their id exists: the id is the idempotency key); ``stop_children`` are child
    executions to stop as ``request_cancel`` does (their CHAINED_INVOKE operation was cancelled).
    ``alone`` says the execution has no parent and never invoked a child: its ending touches no
    other execution, so the store may skip looking for them.
    """

    execution_id: str
    lease_token: int
    now: float
    operations: tuple[Operation, ...] = ()
    events: tuple[NewEvent, ...] = ()
    release: bool = False
    ready_at: float | None = None
    outcome: Outcome | None = None
    blocked_on: BlockedKind | None = None
    consumed_events: tuple[tuple[int, str], ...] = ()
    start_children: tuple[NewExecution, ...] = ()
    stop_children: tuple[str, ...] = ()
    alone: bool = False


@record
class CommitResult:
    """What the writer learned while committing: whether a cancel was requested meanwhile."""

    cancel_requested: bool


@record
class CallbackWrite:
    """What an answer from the outside world does to a callback operation: its new state, the
    history events recording it, and whether the execution must wake to see it."""

    operation: Operation
    events: tuple[NewEvent, ...] = ()
    wake: bool = False


# Decides, from the execution and the callback operation as stored, what an answer changes;
# raises (UnknownCallback, CallbackAlreadyCompleted, ExecutionConflict...) to refuse it.
CallbackChange = Callable[[Execution, Operation], CallbackWrite]


class Store(Protocol):
    """A durable home for executions, their journals and their history."""

    schema_versions: tuple[int, int]
    """The schema version found when the store was opened, and the version it migrated to."""

    def close(self) -> None:
        """Release connections and threads."""
        ...

    # --- writes --------------------------------------------------------------------------------

    def create_execution(self, new: NewExecution) -> tuple[Execution, bool]:
        """Insert the execution (and its ExecutionStarted event) unless the id exists.

        Returns the execution and whether this call created it (the id is the idempotency key).
        """
        ...

    def claim(self, worker_id: str, now: float, lease_seconds: float, limit: int) -> list[Claim]:
        """Lease up to ``limit`` ready executions to ``worker_id`` and load their journals."""
        ...

    def renew_leases(
        self, worker_id: str, leases: dict[str, int], now: float, lease_seconds: float
    ) -> set[str]:
        """Extend the leases still held; return the execution ids whose lease was lost."""
        ...

    def commit(self, write: JournalWrite) -> CommitResult:
        """Apply one checkpoint batch atomically; raise LeaseLost on a stale lease token.

        When ``write.outcome`` ends an execution, the same transaction also (1) completes its
        parent's CHAINED_INVOKE operation (``store.tree.invoke_outcome``) and wakes the parent,
        if it has one and both are still waiting, and (2) stops its child executions still
        RUNNING, as ``request_cancel`` does.
        """
        ...

    def submit_commit(self, write: JournalWrite) -> Future[CommitResult]:
        """``commit`` for callers on an event loop: returns at once; the future holds the end."""
        ...

    def request_cancel(self, execution_id: str, now: float) -> Execution:
        """Stop the execution now when no worker holds it, else flag it for its holder.

        Stopping it now also cancels its unfinished operations (their timers with them),
        completes its parent's CHAINED_INVOKE operation as STOPPED, and stops its own running
        children the same way, all in one transaction.
        """
        ...

    def update_callback(self, callback_id: str, now: float, change: CallbackChange) -> Execution:
        """Answer a callback atomically, whether or not a worker holds its execution.

        Finds the CALLBACK operation whose details hold ``callback_id`` (by index; UnknownCallback
        when none), calls ``change`` with its execution and the operation as stored (an error it
        raises refuses the answer and nothing is written), writes the returned operation and
        events, and when ``wake`` is set makes the execution ready at ``now`` (or sets
        wake_pending while a worker holds it). Returns the execution as it was read.
        """
        ...

    def send_event(
        self, execution_id: str, name: str, payload: str | None, now: float
    ) -> InboxEvent:
        """Append an event to the execution's inbox, atomically with its checks and wake-up.

        Raises UnknownExecution for an unknown id and ExecutionConflict for a finished execution.
        Wakes the execution (ready at ``now``, or wake_pending while a worker holds it) when it
        may be waiting for ``name``.
        """
        ...

    def heartbeat_worker(self, worker_id: str, info: dict[str, Any], now: float) -> None:
        """Record that the worker is alive (``info``: what it announces, see LiveWorker).

        The heartbeat vouches for ``info["lease_seconds"]``; ``info["stopped"]`` ends it now.
        """
        ...

    # --- reads ---------------------------------------------------------------------------------

    def get_execution(self, execution_id: str) -> Execution | None:
        """One execution, or None."""
        ...

    def list_executions(self, where: ExecutionFilter) -> list[Execution]:
        """Executions matching ``where``, newest first."""
        ...

    def count_by_status(self, where: ExecutionFilter) -> dict[ExecutionStatus, int]:
        """How many executions match ``where`` (its statuses and paging ignored), per status."""
        ...

    def operations(self, execution_id: str) -> list[Operation]:
        """The journal of one execution in recorded order."""
        ...

    def history(
        self, execution_id: str, after_id: int = 0, limit: int = 1000
    ) -> list[HistoryEvent]:
        """History events with id greater than ``after_id``, oldest first."""
        ...

    def operation_history(
        self, execution_id: str, operation_ids: Collection[str]
    ) -> list[HistoryEvent]:
        """The history events of some operations of one execution, oldest first."""
        ...

    def latest_event(self, execution_id: str, event_type: str) -> HistoryEvent | None:
        """The newest history event of ``event_type`` of one execution, or None."""
        ...

    def inbox(self, execution_id: str) -> list[InboxEvent]:
        """The execution's events not yet consumed, in the order they were sent."""
        ...

    def next_ready_at(self) -> float | None:
        """The earliest moment any execution becomes claimable (None: nothing scheduled)."""
        ...

    def change_marker(self) -> int:
        """A number that changes when anyone (any process) commits something that makes work
        ready or finishes an execution (it may change more often); cheap to read."""
        ...

    def ready_marker(self) -> int:
        """Like change_marker, for idle workers: it changes when anyone commits something that
        makes work ready (it may change more often, but need not on a finished execution)."""
        ...

    def watch(self, callback: Callable[[str, bool], None]) -> bool:
        """Have ``callback(execution_id, ready)`` called, from a store thread, soon after any
        process commits something that makes that execution ready (``ready`` True) or finishes
        it (False: nothing for a worker to claim). Returns whether the
        store pushes such news: one that cannot (SQLite) never calls it, and waiters poll
        change_marker() often instead of now and then."""
        ...

    def list_workers(self, now: float) -> list[LiveWorker]:
        """The workers whose heartbeat still vouches for them at ``now``, with their leases."""
        ...

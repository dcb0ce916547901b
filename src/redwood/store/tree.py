"""Trees of executions in the SQL stores, written once for both dialects: invoked children
start, an ending flows up to the parent's CHAINED_INVOKE operation (which takes the child's
outcome, with its history event) and down to the children still running, and a cancel stops an
execution the same way. Everything happens in the caller's transaction.

Row locks (PostgreSQL) go down the tree: parent first, then child. So before a transaction
ends an execution (an outcome, a cancel) it locks the execution's parent, then the execution
itself; the PostgreSQL store does that before calling in here (SQLite has one writer at a time).
Children stopped on the way down are locked after their parent, which is locked already.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redwood.errors import ExecutionConflict
from redwood.model import RESULT_FROM_OPERATION, ErrorRecord, Execution, NewEvent
from redwood.store.base import JournalWrite, NewExecution, Outcome
from redwood.store.common import (
    INSERT_EVENT,
    Transaction,
    get_execution,
    notify,
    unknown_execution,
)
from redwood.store.rows import (
    EXECUTION_COLUMNS,
    error_text,
    event_params,
    execution_from_row,
)
from redwood.types import ExecutionStatus, OperationStatus

_VERB = {
    ExecutionStatus.SUCCEEDED: "Succeeded",
    ExecutionStatus.FAILED: "Failed",
    ExecutionStatus.TIMED_OUT: "TimedOut",
    ExecutionStatus.STOPPED: "Stopped",
}
_UNFINISHED = "('STARTED', 'PENDING', 'READY')"


@dataclass(frozen=True, slots=True)
class InvokeOutcome:
    """The parent's CHAINED_INVOKE operation after its child execution ended."""

    status: OperationStatus
    result: str | None
    error: ErrorRecord | None
    event: NewEvent


def invoke_outcome(
    child_id: str, status: ExecutionStatus, result: str | None, error: ErrorRecord | None,
    operation_id: str, parent_id: str | None, name: str | None,
) -> InvokeOutcome:
    """How child execution ``child_id`` ending ``status`` completes operation ``operation_id``."""
    if status is not ExecutionStatus.SUCCEEDED and error is None:
        error = ErrorRecord(type="redwood.Stopped",
                            message=f'child execution "{child_id}" was stopped')
    details: dict[str, object] = {"child_execution_id": child_id}
    result_from = None
    if status is ExecutionStatus.SUCCEEDED:
        result_from = RESULT_FROM_OPERATION  # the result _complete_invoke writes to the row
    elif error is not None:
        details["error"] = error.to_json()
    event = NewEvent(type=f"ChainedInvoke{_VERB[status]}", operation_id=operation_id,
                     parent_id=parent_id, name=name, details=details, result_from=result_from)
    return InvokeOutcome(OperationStatus(status.value), result, error, event)


# --- the transactions ----------------------------------------------------------------------------


def change_tree(tx: Transaction, write: JournalWrite) -> None:
    """The tree changes of a journal write whose own rows are written already: invoked children
    start, cancelled ones stop, and an outcome flows up to the parent and down to the children."""
    for new in write.start_children:
        existing, created = tx.create_execution(new)
        if not created and (existing.parent_execution_id, existing.parent_operation_id) != \
                (new.parent_execution_id, new.parent_operation_id):
            _id_taken(tx, write, new, existing)
    for child_id in write.stop_children:
        child = get_execution(tx, child_id, lock=True)
        if child is not None and child.status is ExecutionStatus.RUNNING:
            stop(tx, child, write.now, "its invoke operation was cancelled")
    if write.outcome is not None and not write.alone:
        ended(tx, write.execution_id, write.outcome, write.now)


def request_cancel(tx: Transaction, execution_id: str, now: float) -> Execution:
    """Store.request_cancel in ``tx``: the execution as it is afterwards."""
    execution = get_execution(tx, execution_id, lock=True)
    if execution is None:
        raise unknown_execution(execution_id)
    if execution.status is not ExecutionStatus.RUNNING:
        return execution
    stop(tx, execution, now, "cancelled")
    updated = get_execution(tx, execution_id)
    assert updated is not None
    return updated


def stop(tx: Transaction, execution: Execution, now: float, reason: str) -> None:
    """Stop ``execution`` (its row locked) now when no worker holds it, else flag it for its
    holder, who stops at its next operation."""
    held = execution.lease_owner is not None and (execution.lease_expires_at or 0) > now
    notify(tx, execution.id)
    if held:
        tx.execute(tx.dialect.sql(_FLAG_CANCEL), (execution.id,))
        return
    # Nobody runs it: stop it here. Bumping the lease token fences off any worker whose lease
    # lapsed but who has not noticed yet.
    tx.execute(tx.dialect.sql(_STOP), (now, execution.id))
    cancelled = [row[0] for row in tx.execute(tx.dialect.sql(_CANCEL_OPERATIONS),
                                              (now, execution.id)).fetchall()]
    details: dict[str, Any] = {"reason": reason}
    if cancelled:
        details["cancelled_operations"] = sorted(cancelled)
    [event] = event_params(execution.id, now, (NewEvent(type="ExecutionStopped", details=details),))
    tx.execute(tx.dialect.sql(INSERT_EVENT), event)
    ended(tx, execution.id, Outcome(ExecutionStatus.STOPPED), now)


def ended(tx: Transaction, execution_id: str, outcome: Outcome, now: float) -> None:
    """Execution ``execution_id`` just ended: its outcome flows up to the parent's
    CHAINED_INVOKE operation, cancellation flows down to the children still running."""
    # Both statements are sent before either result is read: one round trip on PostgreSQL. The
    # parent's row is locked already (see the module's docstring), so what they read of it
    # stays true until the transaction ends.
    parent = tx.execute(tx.dialect.sql(_WAITING_PARENT), (execution_id,))
    children = tx.execute(tx.dialect.sql(_RUNNING_CHILDREN) + tx.dialect.lock, (execution_id,))
    waiting = parent.fetchone()
    running = [execution_from_row(child) for child in children.fetchall()]
    if waiting is not None:
        parent_id, operation_id, op_parent_id, op_name = waiting
        done = invoke_outcome(execution_id, outcome.status, outcome.result, outcome.error,
                              operation_id, op_parent_id, op_name)
        _complete_invoke(tx, parent_id, operation_id, done, now)
    for child in running:
        stop(tx, child, now, f'its parent execution "{execution_id}" ended {outcome.status.value}')


def _id_taken(tx: Transaction, write: JournalWrite, new: NewExecution, taken: Execution) -> None:
    """The invoke that would start ``new`` fails at once: its id belongs to an execution that is
    not its child (started by hand, or by another parent), which would never answer it."""
    assert new.parent_operation_id is not None
    op = next(op for op in write.operations if op.id == new.parent_operation_id)
    error = ErrorRecord.from_exception(ExecutionConflict(
        f'The invoke cannot start its child: execution id "{new.id}" is taken by an execution '
        f'of function "{taken.function}" that is not its child. Child ids are '
        '"<parent id>:<operation id>": do not start executions with such ids by hand.',
        execution_id=new.id,
    ))
    done = invoke_outcome(new.id, ExecutionStatus.FAILED, None, error, op.id, op.parent_id,
                          op.name)
    _complete_invoke(tx, write.execution_id, op.id, done, write.now)


def _complete_invoke(tx: Transaction, parent_id: str, operation_id: str, done: InvokeOutcome,
                     now: float) -> None:
    """The parent's CHAINED_INVOKE operation takes its outcome, and the parent wakes."""
    tx.execute(tx.dialect.sql(_COMPLETE_INVOKE), (
        done.status.value, done.result, error_text(done.error), now, parent_id, operation_id))
    [event] = event_params(parent_id, now, (done.event,))
    tx.execute(tx.dialect.sql(INSERT_EVENT), event)
    tx.execute(tx.dialect.sql(_WAKE), (now, now, now, parent_id))
    notify(tx, parent_id)


_FLAG_CANCEL = "UPDATE executions SET cancel_requested = TRUE, wake_pending = TRUE WHERE id = ?"
_STOP = (
    "UPDATE executions SET status = 'STOPPED', cancel_requested = TRUE, ended_at = ?, "
    "ready_at = NULL, lease_owner = NULL, lease_expires_at = NULL, blocked_on = NULL, "
    "lease_token = lease_token + 1 WHERE id = ?"
)
_CANCEL_OPERATIONS = (
    "UPDATE operations SET status = 'CANCELLED', due_at = NULL, ended_at = ? "
    f"WHERE execution_id = ? AND status IN {_UNFINISHED} RETURNING id"
)
# The parent's CHAINED_INVOKE operation of an execution, while both still wait for each other.
_WAITING_PARENT = (
    "SELECT child.parent_execution_id, child.parent_operation_id, op.parent_id, op.name "
    "FROM executions child "
    "JOIN executions parent ON parent.id = child.parent_execution_id "
    "AND parent.status = 'RUNNING' "
    "JOIN operations op ON op.execution_id = parent.id AND op.id = child.parent_operation_id "
    f"AND op.status IN {_UNFINISHED} "
    "WHERE child.id = ?"
)
_RUNNING_CHILDREN = (
    f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE parent_execution_id = ? "
    "AND status = 'RUNNING'"
)
_COMPLETE_INVOKE = (
    "UPDATE operations SET status = ?, result = ?, error = ?, due_at = NULL, ended_at = ? "
    "WHERE execution_id = ? AND id = ?"
)
# Ready now; while a worker holds the parent, flagged instead: its release makes it ready.
_WAKE = (
    "UPDATE executions SET "
    "wake_pending = CASE WHEN lease_owner IS NOT NULL AND lease_expires_at > ? "
    "THEN TRUE ELSE wake_pending END, "
    "ready_at = CASE WHEN lease_owner IS NOT NULL AND lease_expires_at > ? "
    "THEN ready_at ELSE ? END "
    "WHERE id = ? AND status = 'RUNNING'"
)

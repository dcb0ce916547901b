"""The store's side of the outside world, written once for both SQL dialects: callback answers,
the event inbox, and the wake-ups they cause. Everything happens in the caller's transaction.

Each transaction locks the execution's row before it reads the operation or the inbox it
changes, the same order as a worker's commit (its fence locks the row first), so an answer and a
commit of the same execution land one wholly before the other.
"""

from __future__ import annotations

from redwood.errors import ExecutionConflict, UnknownCallback, UnknownExecution
from redwood.model import Execution, InboxEvent
from redwood.store.base import CallbackChange, JournalWrite
from redwood.store.common import (
    INSERT_EVENT,
    Transaction,
    get_execution,
    notify,
)
from redwood.store.rows import (
    OPERATION_COLUMNS,
    details_text,
    error_text,
    event_params,
    operation_from_row,
)
from redwood.types import WAIT_FOR_EVENT, ExecutionStatus


def update_callback(
    tx: Transaction, callback_id: str, now: float, change: CallbackChange
) -> Execution:
    """Store.update_callback in ``tx``: the execution as it was read."""
    d = tx.dialect
    find = f"SELECT execution_id, {OPERATION_COLUMNS} FROM operations WHERE type = 'CALLBACK' " \
        f"AND {d.callback_id} = ?"
    row = tx.execute(d.sql(find), (callback_id,)).fetchone()
    if row is None:
        raise UnknownCallback(
            f'No callback "{callback_id}": no execution created a callback with this id. Pass '
            "on Callback.callback_id unchanged, and answer callbacks of this app's database.",
            callback_id=callback_id,
        )
    execution = get_execution(tx, row[0], lock=True)
    assert execution is not None
    # Read again under the execution's lock: a worker's commit may have changed it meanwhile.
    row = tx.execute(d.sql(find) + d.lock, (callback_id,)).fetchone()
    write = change(execution, operation_from_row(row[1:]))
    op = write.operation
    tx.execute(d.sql(_UPDATE_CALLBACK), (
        op.status.value, op.result, error_text(op.error), op.due_at, op.ended_at,
        details_text(op.details), execution.id, op.id,
    ))
    for event in event_params(execution.id, now, write.events):
        tx.execute(d.sql(INSERT_EVENT), event)
    if write.wake:
        _wake(tx, execution.id, now)
    return execution


def send_event(
    tx: Transaction, execution_id: str, name: str, payload: str | None, now: float
) -> InboxEvent:
    """Store.send_event in ``tx``."""
    execution = get_execution(tx, execution_id, lock=True)
    if execution is None:
        raise UnknownExecution(
            f'Cannot send event "{name}": no execution "{execution_id}". Check the id with '
            "`redwood list`.",
            execution_id=execution_id, event=name,
        )
    if execution.status is not ExecutionStatus.RUNNING:
        raise ExecutionConflict(
            f'Cannot send event "{name}" to execution "{execution_id}": it already ended '
            f"{execution.status.value}, and only running executions receive events.",
            execution_id=execution_id, event=name, status=execution.status,
        )
    d = tx.dialect
    sent = tx.execute(d.sql(_INSERT_INBOX), (execution_id, name, payload, now))
    awaits = tx.execute(d.sql(_AWAITS_EVENT), (execution_id, WAIT_FOR_EVENT, name))
    event_id = sent.fetchone()[0]
    # A worker holding the execution may be about to wait for this very event without having
    # seen it, so a held execution always looks again when released.
    if execution.lease_owner is not None or awaits.fetchone() is not None:
        _wake(tx, execution_id, now)
    return InboxEvent(event_id, execution_id, name, payload, now)


def consume_events(tx: Transaction, write: JournalWrite) -> None:
    """Take the write's delivered events out of the inbox for good; ExecutionConflict (the
    caller then writes nothing of ``write``) when one is not waiting there any more."""
    taken = [tx.execute(tx.dialect.sql(_CONSUME),
                        (operation_id, write.now, event_id, write.execution_id))
             for event_id, operation_id in write.consumed_events]
    for (event_id, _), rows in zip(write.consumed_events, taken, strict=True):
        if rows.fetchone() is None:
            raise ExecutionConflict(
                f'Execution "{write.execution_id}": inbox event {event_id} is not waiting in its '
                "inbox any more; an event is delivered to exactly one wait.",
                execution_id=write.execution_id, event_id=event_id,
            )


def _wake(tx: Transaction, execution_id: str, now: float) -> None:
    tx.execute(tx.dialect.sql(_WAKE.format(least=tx.dialect.least)), (now, now, execution_id))
    notify(tx, execution_id)


_UPDATE_CALLBACK = (
    "UPDATE operations SET status = ?, result = ?, error = ?, due_at = ?, ended_at = ?, "
    "details = ? WHERE execution_id = ? AND id = ?"
)
_INSERT_INBOX = (
    "INSERT INTO inbox (execution_id, name, payload, sent_at) VALUES (?, ?, ?, ?) RETURNING id"
)
_AWAITS_EVENT = (
    "SELECT 1 FROM operations WHERE execution_id = ? AND type = 'CALLBACK' "
    "AND subtype = ? AND name = ? AND status = 'STARTED' LIMIT 1"
)
_CONSUME = (
    "UPDATE inbox SET consumed_by = ?, consumed_at = ? "
    "WHERE id = ? AND execution_id = ? AND consumed_by IS NULL RETURNING id"
)
# Ready at once when nobody holds the execution; while a worker does, its releasing commit makes
# it ready (wake_pending), so news arriving during an invocation is seen by the next one.
_WAKE = (
    "UPDATE executions SET "
    "ready_at = CASE WHEN lease_owner IS NULL THEN {least}(COALESCE(ready_at, ?), ?) "
    "ELSE ready_at END, "
    "wake_pending = CASE WHEN lease_owner IS NULL THEN wake_pending ELSE TRUE END "
    "WHERE id = ? AND status = 'RUNNING'"
)

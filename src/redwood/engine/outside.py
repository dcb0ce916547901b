"""Answers from the outside world: callback successes, failures and heartbeats, and named events.

Each is checked here (ids, payloads, the callback's state), written by the store in one atomic
step that also wakes the execution, and announced to the workers of this process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redwood import names
from redwood.engine import transitions
from redwood.engine.engine import Engine
from redwood.errors import (
    CallbackAlreadyCompleted,
    ExecutionConflict,
    PayloadTooLarge,
    ValidationError,
)
from redwood.model import ErrorRecord, Execution, NewEvent, Operation
from redwood.store.base import CallbackWrite
from redwood.types import OperationStatus

_MAX_ERROR_TYPE_LENGTH = 256

# How an answer completes a waiting callback operation at a given time.
Completion = Callable[[Operation, float], tuple[Operation, list[NewEvent]]]


class Outside:
    """The engine's door for other systems (used by ``Client`` and the HTTP server)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def callback_success(self, callback_id: str, payload: Any = None) -> None:
        """Complete the callback with ``payload`` as its result."""
        callback_id = names.callback_id(callback_id)
        text = self._engine.codec.encode(payload, f'the result of callback "{callback_id}"')
        self._answer(callback_id, lambda op, now: transitions.complete_callback(op, now, text))

    def callback_answer(
        self, callback_id: str, result: str | None = None, error: ErrorRecord | None = None
    ) -> None:
        """Answer with a result already in stored form, or with a whole error record (what the
        AWS callback API sends: raw result bytes, or an ErrorObject with data and stack trace)."""
        callback_id = names.callback_id(callback_id)
        stored = result if error is None else error.message
        size = 0 if stored is None else len(stored.encode())
        if size > self._engine.codec.max_bytes:
            raise PayloadTooLarge(
                f'Cannot store the answer of callback "{callback_id}": it is {size} bytes, above '
                f"the limit of {self._engine.codec.max_bytes} bytes. Send a reference to the data "
                "instead, or raise App(max_payload_bytes=...).",
                callback_id=callback_id, size=size, limit=self._engine.codec.max_bytes,
            )
        self._answer(callback_id, lambda op, now: transitions.complete_callback(
            op, now, result if error is None else None, error))

    def callback_failure(
        self, callback_id: str, message: str, error_type: str = "CallbackError"
    ) -> None:
        """Fail the callback: the waiting code gets CallbackFailed with this type and message."""
        callback_id = names.callback_id(callback_id)
        message = _message(message, callback_id)
        # Encoding checks the message against the payload size limit like any stored value.
        self._engine.codec.encode(message, f'the failure message of callback "{callback_id}"')
        error = ErrorRecord(type=_error_type(error_type), message=message)
        self._answer(callback_id, lambda op, now: transitions.complete_callback(op, now,
                                                                                error=error))

    def callback_heartbeat(self, callback_id: str) -> None:
        """Tell the callback its answer is still being worked on (moves its heartbeat deadline)."""
        callback_id = names.callback_id(callback_id)
        now = self._engine.clock.now()

        def change(execution: Execution, op: Operation) -> CallbackWrite:
            _check_waiting(callback_id, execution, op, now)
            # No wake-up: the execution has nothing new to see. If it wakes at the old deadline,
            # the claim finds the new one and it suspends again.
            return CallbackWrite(transitions.heartbeat_callback(op, now))

        self._engine.store.update_callback(callback_id, now, change)

    def send_event(self, execution_id: str, name: str, payload: Any = None) -> None:
        """Deliver ``payload`` to the execution's next ``wait_for_event(name)`` (now or later)."""
        if not isinstance(execution_id, str) or not execution_id:
            raise ValidationError(
                f"send_event: execution_id must be the non-empty id of an execution, got "
                f"{execution_id!r}.", execution_id=repr(execution_id),
            )
        name = names.event_name(name, "send_event: the event name")
        text = self._engine.codec.encode(
            payload, f'the payload of event "{name}" for execution "{execution_id}"')
        self._engine.store.send_event(execution_id, name, text, self._engine.clock.now())
        self._engine.notifier.publish(execution_id)

    def _answer(self, callback_id: str, complete: Completion) -> None:
        now = self._engine.clock.now()

        def change(execution: Execution, op: Operation) -> CallbackWrite:
            _check_waiting(callback_id, execution, op, now)
            done, events = complete(op, now)
            return CallbackWrite(done, tuple(events), wake=True)

        execution = self._engine.store.update_callback(callback_id, now, change)
        self._engine.notifier.publish(execution.id)


def _check_waiting(callback_id: str, execution: Execution, op: Operation, now: float) -> None:
    """Refuse an answer the callback can no longer take."""
    where = f'callback "{callback_id}" (operation #{op.id} of execution "{execution.id}")'
    if execution.status.finished:
        raise ExecutionConflict(
            f"Cannot answer {where}: the execution already ended {execution.status.value}, so "
            "nothing waits for the answer any more.",
            callback_id=callback_id, execution_id=execution.id, status=execution.status,
        )
    if op.status is not OperationStatus.STARTED:
        raise CallbackAlreadyCompleted(
            f"Cannot answer {where}: it already {op.status.value}. A callback takes one answer; "
            "make the caller treat this error as 'already answered'.",
            callback_id=callback_id, execution_id=execution.id, status=op.status,
        )
    if op.due_at is not None and op.due_at <= now:
        # The deadline passed: the timeout is decided, even if no worker has recorded it yet.
        raise CallbackAlreadyCompleted(
            f"Cannot answer {where}: it timed out at {op.due_at} (no answer or heartbeat in time). "
            "Give the callback a longer timeout or heartbeat sooner.",
            callback_id=callback_id, execution_id=execution.id, status=OperationStatus.TIMED_OUT,
        )


def _error_type(error_type: object) -> str:
    if isinstance(error_type, str) and 0 < len(error_type) <= _MAX_ERROR_TYPE_LENGTH \
            and error_type.isprintable():
        return error_type
    raise ValidationError(
        f"callback_failure: error_type must be 1 to {_MAX_ERROR_TYPE_LENGTH} printable "
        f"characters naming the kind of failure, e.g. 'PaymentDeclined'; got {error_type!r}.",
        error_type=repr(error_type),
    )


def _message(message: object, callback_id: str) -> str:
    if isinstance(message, str):
        return message
    raise ValidationError(
        f'callback_failure for callback "{callback_id}": message must be text saying what went '
        f"wrong, got {type(message).__name__} {message!r}.",
        callback_id=callback_id,
    )

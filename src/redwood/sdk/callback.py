"""Callbacks: hand an id to another system, then wait, holding no thread, for its answer.

``ctx.create_callback`` records a CALLBACK operation with an unguessable id; ``result()`` returns
the answer or suspends until the outside world gives one through the client.
``ctx.wait_for_callback`` does both around a submitter step, inside a CONTEXT "WaitForCallback".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redwood.durations import Duration, seconds
from redwood.errors import CallbackFailed, CallbackHeartbeatTimedOut, CallbackTimedOut, StepFailed
from redwood.model import ErrorRecord, Operation, OperationUpdate
from redwood.names import new_callback_id
from redwood.sdk.effects import FLUSH, Flow
from redwood.sdk.signals import Suspend
from redwood.sdk.state import InvocationState, Scope
from redwood.sdk.step import StepOptions, step_flow
from redwood.types import WAIT_FOR_CALLBACK, OperationAction, OperationStatus, OperationType


@dataclass(frozen=True, slots=True)
class CallbackOptions:
    """A callback's name and its timeouts in seconds (None: no limit)."""

    name: str | None
    timeout: float | None
    heartbeat_timeout: float | None


def callback_options(
    name: str | None, timeout: Duration | None, heartbeat_timeout: Duration | None
) -> CallbackOptions:
    """Checked options: each timeout 1 second to 1 year, or None."""
    return CallbackOptions(
        name=name,
        timeout=None if timeout is None else seconds(timeout, "callback timeout"),
        heartbeat_timeout=None if heartbeat_timeout is None
        else seconds(heartbeat_timeout, "callback heartbeat_timeout"),
    )


class _Callback:
    """What both faces share: the id to hand out, and where the answer will be recorded."""

    def __init__(self, state: InvocationState, op: Operation) -> None:
        self._state = state
        self._op_id = op.id
        self._parent_id = op.parent_id
        self._name = op.name
        self.callback_id: str = op.details["callback_id"]

    def __repr__(self) -> str:
        return f"Callback({self.callback_id!r}, operation={self._op_id!r})"

    def _result(self) -> Any:
        op = self._state.lookup(self._op_id, OperationType.CALLBACK, None, self._name,
                                self._parent_id)
        assert op is not None
        text = answer_text(self._state, op)
        return self._state.codec.decode(text, None, _what(op))


class Callback(_Callback):
    """A callback of a sync durable function: give ``callback_id`` away, then ``result()``."""

    def result(self) -> Any:
        """The answer; raises CallbackFailed / CallbackTimedOut, or suspends until it comes."""
        return self._result()


class AsyncCallback(_Callback):
    """A callback of an async durable function: hand out ``callback_id``, ``await result()``."""

    async def result(self) -> Any:
        """The answer; raises CallbackFailed / CallbackTimedOut, or suspends until it comes."""
        return self._result()


def create_flow(state: InvocationState, scope: Scope, options: CallbackOptions) -> Flow[Operation]:
    """Record a new callback (or find the recorded one on replay); returns its operation."""
    op_id = scope.next_id()
    op = state.lookup(op_id, OperationType.CALLBACK, None, options.name, scope.parent_id)
    if op is not None:
        return op
    state.record(OperationUpdate(
        id=op_id, parent_id=scope.parent_id, type=OperationType.CALLBACK,
        action=OperationAction.START, name=options.name,
        details={"callback_id": new_callback_id(), "timeout": options.timeout,
                 "heartbeat_timeout": options.heartbeat_timeout},
    ))
    # The id leaves the function as soon as it is returned: it must be durable first, or a
    # crash would replay with a new id and the answer to the old one would find nothing.
    yield FLUSH
    if state.options.always_replay:
        raise Suspend("always-replay mode", immediate=True)
    return state.journal[op_id]


def answer_text(state: InvocationState, op: Operation) -> str | None:
    """The stored answer of a callback; raises its failure or timeout, or suspends meanwhile."""
    if op.status is OperationStatus.SUCCEEDED:
        return op.result
    if op.status is OperationStatus.FAILED:
        record = op.error or ErrorRecord(type="CallbackError", message="(no message)")
        raise CallbackFailed(
            f"{_where(state, op)} failed: {record.type}: {record.message}",
            execution_id=state.execution_id, operation_id=op.id, callback=op.name,
            callback_id=op.details.get("callback_id"), error_type=record.type,
            error_message=record.message,
        )
    if op.status is OperationStatus.TIMED_OUT:
        heartbeat = op.details.get("timed_out") == "heartbeat"
        error_class = CallbackHeartbeatTimedOut if heartbeat else CallbackTimedOut
        rule = (f"no heartbeat within {op.details.get('heartbeat_timeout')}s" if heartbeat
                else f"no answer by its timeout ({op.details.get('timeout_at')})")
        raise error_class(
            f"{_where(state, op)} timed out: {rule}. Catch {error_class.__name__} to handle it, "
            "or give the callback more time.",
            execution_id=state.execution_id, operation_id=op.id, callback=op.name,
            callback_id=op.details.get("callback_id"),
        )
    raise Suspend(f"callback #{op.id} waits for its answer")


def wait_for_callback_flow(
    state: InvocationState, scope: Scope, submitter: Callable[..., Any], options: CallbackOptions,
    step: StepOptions,
) -> Flow[Any]:
    """Create a callback, run ``submitter(callback_id)`` as a step, and wait for the answer, all
    inside one CONTEXT "WaitForCallback" whose result is the answer."""
    context_id = scope.next_id()
    context = state.lookup(context_id, OperationType.CONTEXT, WAIT_FOR_CALLBACK, options.name,
                           scope.parent_id)
    if context is not None and context.status is OperationStatus.SUCCEEDED:
        return state.codec.decode(context.result, None, _what(context))
    if context is None:
        state.record(_context_update(context_id, scope, options, OperationAction.START))
    inner = Scope(context_id)
    try:
        callback = yield from create_flow(state, inner, options)
        yield from step_flow(state, inner, submitter, (callback.details["callback_id"],), {},
                             step)
        op = state.lookup(callback.id, OperationType.CALLBACK, None, options.name, context_id)
        assert op is not None
        text = answer_text(state, op)
    except (CallbackFailed, CallbackTimedOut, StepFailed) as error:
        # A failed context replays its children to raise the very same error again.
        if context is None or not context.status.finished:
            state.record(_context_update(context_id, scope, options, OperationAction.FAIL,
                                         error=ErrorRecord.from_exception(error)))
        raise
    state.record(_context_update(context_id, scope, options, OperationAction.SUCCEED,
                                 payload=text))
    return state.codec.decode(text, None, _what(op))


def _context_update(
    context_id: str, scope: Scope, options: CallbackOptions, action: OperationAction, *,
    payload: str | None = None, error: ErrorRecord | None = None,
) -> OperationUpdate:
    return OperationUpdate(
        id=context_id, parent_id=scope.parent_id, type=OperationType.CONTEXT, action=action,
        name=options.name, subtype=WAIT_FOR_CALLBACK, payload=payload, error=error,
    )


def _where(state: InvocationState, op: Operation) -> str:
    name = f' "{op.name}"' if op.name else ""
    return f'Callback{name} (operation #{op.id}) of execution "{state.execution_id}"'


def _what(op: Operation) -> str:
    return f'the result of callback "{op.name or op.id}" (operation #{op.id})'

"""The client: start executions, follow them, read their history, cancel them."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from redwood.durations import Duration
from redwood.engine.engine import Engine
from redwood.engine.outside import Outside
from redwood.engine.registry import DurableFunction
from redwood.errors import ExecutionFailed, UnknownFunction, ValidationError
from redwood.model import Execution, ExecutionFilter, HistoryEvent, Operation
from redwood.serde import return_hint
from redwood.types import ExecutionStatus

I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


class ExecutionHandle(Generic[R]):
    """A reference to one execution."""

    def __init__(self, client: Client, execution_id: str, created: bool = True) -> None:
        self._client = client
        self.id = execution_id
        self.created = created

    def __repr__(self) -> str:
        return f"ExecutionHandle({self.id!r})"

    def get(self) -> Execution:
        """The execution as stored now."""
        return self._client.get(self.id)

    def status(self) -> ExecutionStatus:
        """The execution's status now."""
        return self.get().status

    def result(self, timeout: float | None = None) -> R:
        """Block until the execution finishes; return its result or raise ExecutionFailed."""
        return self._client.result(self.id, timeout)  # type: ignore[no-any-return]

    def cancel(self) -> Execution:
        """Stop the execution at its next operation."""
        return self._client.cancel(self.id)

    def history(self) -> list[HistoryEvent]:
        """The execution's event log."""
        return self._client.history(self.id)

    def operations(self) -> list[Operation]:
        """The execution's journal."""
        return self._client.operations(self.id)

    def send_event(self, name: str, payload: Any = None) -> None:
        """Send the execution a named event (see Client.send_event)."""
        self._client.send_event(self.id, name, payload)


class Client:
    """Start and follow executions of one app's durable functions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._outside = Outside(engine)

    def start(
        self, function: DurableFunction[I, R] | str, input: I | None = None, *,
        id: str | None = None, timeout: Duration | None = None,
    ) -> ExecutionHandle[R]:
        """Start ``function`` with ``input``. An explicit ``id`` is the idempotency key: starting
        the same id again returns the existing execution and never runs it twice. ``timeout``
        ends the execution as TIMED_OUT that long after its start, even while it waits."""
        name = function if isinstance(function, str) else function.name
        execution, created = self._engine.start(name, input, id, timeout)
        return ExecutionHandle(self, execution.id, created)

    def handle(self, execution_id: str) -> ExecutionHandle[Any]:
        """A handle on an existing execution."""
        self._engine.get(execution_id)
        return ExecutionHandle(self, execution_id, created=False)

    def get(self, execution_id: str) -> Execution:
        """One execution (UnknownExecution when there is none)."""
        return self._engine.get(execution_id)

    def result(self, execution_id: str, timeout: float | None = None) -> Any:
        """Block until the execution finishes; return its result or raise ExecutionFailed."""
        execution = self._engine.wait_finished(execution_id, timeout)
        if execution.status is ExecutionStatus.SUCCEEDED:
            return self._engine.codec.decode(execution.result, self._result_hint(execution),
                                             f'the result of execution "{execution_id}"')
        error = execution.error
        detail = f"{error.type}: {error.message}" if error else "no error recorded"
        raise ExecutionFailed(
            f'Execution "{execution_id}" ended {execution.status.value}: {detail}',
            execution_id=execution_id, status=execution.status,
            error_type=error.type if error else None,
            error_message=error.message if error else None,
        )

    def _result_hint(self, execution: Execution) -> Any:
        try:
            return return_hint(self._engine.registry.get(execution.function).fn)
        except UnknownFunction:
            return None

    def list(
        self, *, function: str | None = None,
        status: ExecutionStatus | str | Sequence[ExecutionStatus | str] | None = None,
        since: float | None = None, until: float | None = None, id_contains: str | None = None,
        limit: int = 100, after: Execution | None = None,
    ) -> list[Execution]:
        """Executions, newest first, filtered by function, status and creation time; pass the
        last execution of a page as ``after`` to get the next page."""
        if limit < 1:
            raise ValidationError(
                f"list: limit must be >= 1, got {limit}. Page with limit=N and after=<the last "
                "execution of the previous page>.",
                limit=limit,
            )
        statuses: tuple[ExecutionStatus, ...] = ()
        if status is not None:
            items: Sequence[ExecutionStatus | str] = [status] if isinstance(status, str) else status
            statuses = tuple(ExecutionStatus(s) for s in items)
        where = ExecutionFilter(function=function, statuses=statuses, created_after=since,
                                created_before=until, id_contains=id_contains, limit=limit,
                                before_id=None if after is None else (after.created_at, after.id))
        return self._engine.store.list_executions(where)

    # builtins.list: inside the class body, "list" is the method above.
    def history(
        self, execution_id: str, after_id: int = 0, limit: int = 10_000
    ) -> builtins.list[HistoryEvent]:
        """The execution's event log, oldest first."""
        self._engine.get(execution_id)
        return self._engine.store.history(execution_id, after_id, limit)

    def operations(self, execution_id: str) -> builtins.list[Operation]:
        """The execution's journal in recorded order."""
        self._engine.get(execution_id)
        return self._engine.store.operations(execution_id)

    def cancel(self, execution_id: str) -> Execution:
        """Stop a running or waiting execution at its next operation."""
        return self._engine.cancel(execution_id)

    # --- the outside world ---------------------------------------------------------------------

    def send_event(self, execution_id: str, name: str, payload: Any = None) -> None:
        """Send a named event: the execution's next ``wait_for_event(name)`` receives ``payload``.

        Sent before anything waits for it, it is kept; events of one name are received in the
        order sent, each by one wait. UnknownExecution / ExecutionConflict (finished execution).
        """
        self._outside.send_event(execution_id, name, payload)

    def callback_success(self, callback_id: str, payload: Any = None) -> None:
        """Complete a callback: its ``result()`` returns ``payload``.

        UnknownCallback for an unknown id; CallbackAlreadyCompleted when it already has its
        outcome (answered or timed out); ExecutionConflict when its execution ended.
        """
        self._outside.callback_success(callback_id, payload)

    def callback_failure(
        self, callback_id: str, message: str, error_type: str = "CallbackError"
    ) -> None:
        """Fail a callback: its ``result()`` raises CallbackFailed with ``error_type`` and
        ``message`` (refused like ``callback_success``)."""
        self._outside.callback_failure(callback_id, message, error_type)

    def callback_heartbeat(self, callback_id: str) -> None:
        """Keep a callback with a heartbeat timeout alive: its heartbeat deadline starts over."""
        self._outside.callback_heartbeat(callback_id)

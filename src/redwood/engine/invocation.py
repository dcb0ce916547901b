"""The engine's side of the seam for one claimed execution: it applies checkpoint updates to the
journal it loaded at claim time and commits them under the lease token."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from redwood.clock import Clock
from redwood.engine import transitions
from redwood.errors import LeaseLost
from redwood.model import Claim, Execution, NewEvent, Operation, OperationUpdate
from redwood.sdk.run import Ending, InvocationOutcome
from redwood.sdk.seam import CheckpointResult
from redwood.store.base import CommitResult, JournalWrite, Outcome, Store
from redwood.types import ExecutionStatus

_EXECUTION_EVENT = {
    Ending.SUCCEEDED: ("ExecutionSucceeded", ExecutionStatus.SUCCEEDED),
    Ending.FAILED: ("ExecutionFailed", ExecutionStatus.FAILED),
    Ending.STOPPED: ("ExecutionStopped", ExecutionStatus.STOPPED),
}


class Invocation:
    """One pass of a durable function over its journal, as the engine sees it."""

    def __init__(self, store: Store, clock: Clock, claim: Claim) -> None:
        self.execution: Execution = claim.execution
        self.execution_id = claim.execution.id
        self.lease_token = claim.lease_token
        self.operations: dict[str, Operation] = {op.id: op for op in claim.operations}
        self.handback = False
        self._store = store
        self._clock = clock
        self._token = 0
        self._unsaved: dict[str, Operation] = {}
        self._events: list[NewEvent] = []
        self._lock = threading.Lock()
        self._failed: BaseException | None = None
        self._started = clock.now()
        self._fire_due_timers(self._started)

    def _fire_due_timers(self, now: float) -> None:
        # Timers are resolved when the execution is claimed, and written with its first commit:
        # if that commit never happens, the next claim resolves them again, so each fires once.
        for op in list(self.operations.values()):
            fired = transitions.resolve_due(op, now)
            if fired is not None:
                self._keep(fired[0], fired[1])

    def _keep(self, op: Operation, events: list[NewEvent]) -> None:
        self.operations[op.id] = op
        self._unsaved[op.id] = op
        self._events.extend(events)

    def _apply(self, updates: Sequence[OperationUpdate], now: float) -> list[Operation]:
        changed = []
        for update in updates:
            op, events = transitions.apply(self.operations.get(update.id), update, now)
            self._keep(op, events)
            changed.append(op)
        return changed

    def _commit(self, write: JournalWrite) -> CommitResult:
        # Once a write failed (refused lease, lost connection: it may even have committed),
        # nothing this invocation does may be written, even if user code caught the error:
        # the execution's next holder replays from whatever is durable.
        if self._failed is not None:
            raise self._failed
        try:
            return self._store.commit(write)
        except BaseException as error:
            self._failed = error
            raise

    def _write(self, now: float, **ending: object) -> JournalWrite:
        write = JournalWrite(
            execution_id=self.execution_id, lease_token=self.lease_token, now=now,
            operations=tuple(self._unsaved.values()), events=tuple(self._events),
            **ending,  # type: ignore[arg-type]
        )
        self._unsaved = {}
        self._events = []
        return write

    # --- the seam ------------------------------------------------------------------------------

    def checkpoint(self, token: int, updates: Sequence[OperationUpdate]) -> CheckpointResult:
        with self._lock:
            if token != self._token:
                raise LeaseLost(
                    f'Execution "{self.execution_id}": checkpoint token {token} is stale (the '
                    f"current one is {self._token}); each checkpoint must use the token the "
                    "previous one returned.",
                    execution_id=self.execution_id, token=token,
                )
            now = self._clock.now()
            changed = self._apply(updates, now)
            result = self._commit(self._write(now))
            self._token += 1
            return CheckpointResult(self._token, tuple(changed), result.cancel_requested,
                                    self.handback)

    def get_state(self, token: int) -> list[Operation]:
        with self._lock:
            return list(self.operations.values())

    # --- the end -------------------------------------------------------------------------------

    def finish(self, outcome: InvocationOutcome) -> ExecutionStatus:
        """Commit the invocation's last updates with its ending, in one write."""
        with self._lock:
            now = self._clock.now()
            self._apply(outcome.pending, now)
            self._events.append(NewEvent(
                type="InvocationCompleted",
                details={"ending": outcome.ending.value, "started_at": self._started,
                         "duration": now - self._started,
                         "invocation": self.execution.invocations},
            ))
            if outcome.ending is Ending.SUSPENDED:
                ready_at = now if outcome.immediate else transitions.next_due(
                    self.operations.values(), now)
                self._commit(self._write(now, release=True, ready_at=ready_at))
                return ExecutionStatus.RUNNING
            event, status = _EXECUTION_EVENT[outcome.ending]
            details = {"result": outcome.result} if outcome.result is not None else {}
            if outcome.error is not None:
                details = {"error": outcome.error.to_json()}
            self._events.append(NewEvent(type=event, details=details))
            self._commit(self._write(
                now, outcome=Outcome(status, result=outcome.result, error=outcome.error)))
            return status

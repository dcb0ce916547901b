"""The engine's side of the seam for one claimed execution: it applies checkpoint updates to the
journal it loaded at claim time and commits them under the lease token."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from redwood.clock import Clock
from redwood.engine import blocked, transitions
from redwood.engine.inbox import Inbox
from redwood.errors import LeaseLost
from redwood.model import Claim, Execution, NewEvent, Operation, OperationUpdate
from redwood.sdk.run import Ending, InvocationOutcome
from redwood.sdk.seam import CheckpointResult
from redwood.store.base import JournalWrite, Outcome, Store
from redwood.types import WAIT_FOR_EVENT, ExecutionStatus

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
        self._inbox = Inbox(store, self.execution_id)
        self._started = clock.now()
        self._fire_due_timers(self._started)

    def _fire_due_timers(self, now: float) -> None:
        # Timers are resolved when the execution is claimed, and written with its first commit:
        # if that commit never happens, the next claim resolves them again, so each fires once.
        for op in list(self.operations.values()):
            # An event sent before a wait's deadline wins over its timeout, however late we run.
            if transitions.awaits_event(op) and self._deliver(op, now):
                continue
            fired = transitions.resolve_due(op, now)
            if fired is not None:
                self._keep(fired[0], fired[1])

    def _deliver(self, wait: Operation, now: float) -> bool:
        event = self._inbox.take(wait)
        if event is None:
            return False
        self._keep(*transitions.deliver_event(wait, event, now))
        return True

    def _keep(self, op: Operation, events: list[NewEvent]) -> None:
        self.operations[op.id] = op
        self._unsaved[op.id] = op
        self._events.extend(events)

    def _apply(self, updates: Sequence[OperationUpdate], now: float) -> list[Operation]:
        changed = []
        for update in updates:
            op, events = transitions.apply(self.operations.get(update.id), update, now)
            self._keep(op, events)
            if transitions.awaits_event(op):
                self._deliver(op, now)
            changed.append(self.operations[op.id])
        return changed

    def _write(self, now: float, **ending: object) -> JournalWrite:
        write = JournalWrite(
            execution_id=self.execution_id, lease_token=self.lease_token, now=now,
            operations=tuple(self._unsaved.values()), events=tuple(self._events),
            consumed_events=self._inbox.drain(), **ending,  # type: ignore[arg-type]
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
            result = self._store.commit(self._write(now))
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
            changed = self._apply(outcome.pending, now)
            self._events.append(NewEvent(
                type="InvocationCompleted",
                details={"ending": outcome.ending.value, "started_at": self._started,
                         "duration": now - self._started,
                         "invocation": self.execution.invocations},
            ))
            if outcome.ending is Ending.SUSPENDED:
                # A wait recorded only now may have received its event here: run again to see it.
                immediate = outcome.immediate or any(
                    op.subtype == WAIT_FOR_EVENT and op.status.finished for op in changed)
                ready_at = now if immediate else transitions.next_due(
                    self.operations.values(), now)
                waiting = blocked.recorded_wait(self.operations.values())
                self._store.commit(self._write(now, release=True, ready_at=ready_at,
                                               blocked_on=waiting))
                return ExecutionStatus.RUNNING
            event, status = _EXECUTION_EVENT[outcome.ending]
            details: dict[str, Any] = {}
            if outcome.result is not None:
                details = {"result": outcome.result}
            if outcome.error is not None:
                details = {"error": outcome.error.to_json()}
            self._events.append(NewEvent(type=event, details=details))
            self._store.commit(self._write(
                now, outcome=Outcome(status, result=outcome.result, error=outcome.error)))
            return status

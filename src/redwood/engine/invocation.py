"""The engine's side of the seam for one claimed execution: it applies checkpoint updates to the
journal it loaded at claim time and commits them under the lease token."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from redwood.clock import Clock
from redwood.engine import blocked, transitions
from redwood.engine.inbox import Inbox
from redwood.engine.tree import Tree, earliest, end_operations, timed_out, timeout_error
from redwood.errors import LeaseLost
from redwood.model import (
    RESULT_FROM_EXECUTION,
    Claim,
    ErrorRecord,
    Execution,
    NewEvent,
    Operation,
    OperationUpdate,
)
from redwood.sdk.run import Ending, InvocationOutcome
from redwood.sdk.seam import CheckpointResult
from redwood.store.base import CommitResult, JournalWrite, NewExecution, Outcome, Store
from redwood.types import WAIT_FOR_EVENT, ExecutionStatus, OperationType

_EXECUTION_EVENT = {
    Ending.SUCCEEDED: ("ExecutionSucceeded", ExecutionStatus.SUCCEEDED),
    Ending.FAILED: ("ExecutionFailed", ExecutionStatus.FAILED),
    Ending.STOPPED: ("ExecutionStopped", ExecutionStatus.STOPPED),
    Ending.TIMED_OUT: ("ExecutionTimedOut", ExecutionStatus.TIMED_OUT),
}


class Invocation:
    """One pass of a durable function over its journal, as the engine sees it."""

    def __init__(self, store: Store, clock: Clock, claim: Claim, tree: Tree | None = None
                 ) -> None:
        self.execution: Execution = claim.execution
        self.execution_id = claim.execution.id
        self.lease_token = claim.lease_token
        # Until when this invocation may act: the claim's expiry, moved on by the worker's
        # renewals (Engine.leases_renewed).
        self.lease_expires_at = claim.execution.lease_expires_at
        self.operations: dict[str, Operation] = {op.id: op for op in claim.operations}
        self.handback = False
        # Set when the final commit (the release or the ending) begins: a renewal that finds the
        # lease gone from then on met that commit, not another worker.
        self.ending = False
        self._store = store
        self._clock = clock
        self._token = 0
        self._unsaved: dict[str, Operation] = {}
        self._events: list[NewEvent] = []
        self._lock = threading.Lock()
        self._inbox = Inbox(store, self.execution_id)
        self._tree = tree
        self._start_children: list[NewExecution] = []
        self._stop_children: list[str] = []
        self._cancel_requested = claim.execution.cancel_requested
        self._failed: BaseException | None = None
        self._started = clock.now()
        self._fire_due_timers(self._started)
        # What the engine changed on its own while claiming (timers fired, events delivered).
        self.changed_at_claim: frozenset[str] = frozenset(self._unsaved)

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
            for applied in self._expand(update, now):
                op, events = transitions.apply(self.operations.get(update.id), applied, now)
                self._keep(op, events)
                if transitions.awaits_event(op):
                    self._deliver(op, now)
            changed.append(self.operations[update.id])
        return changed

    def _expand(self, update: OperationUpdate, now: float) -> tuple[OperationUpdate, ...]:
        # Only a CHAINED_INVOKE touches child executions; skip the rest here, once per update.
        if self._tree is None or update.type is not OperationType.CHAINED_INVOKE:
            return (update,)
        expanded = self._tree.expand(self.execution, self.operations.get(update.id), update, now)
        if expanded.start is not None:
            self._start_children.append(expanded.start)
        if expanded.stop is not None:
            self._stop_children.append(expanded.stop)
        return expanded.updates
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
            consumed_events=self._inbox.drain(),
            start_children=tuple(self._start_children), stop_children=tuple(self._stop_children),
            **ending,  # type: ignore[arg-type]
        )
        self._unsaved = {}
        self._events = []
        self._start_children = []
        self._stop_children = []
        return write

    # --- the seam ------------------------------------------------------------------------------

    def checkpoint(self, token: int, updates: Sequence[OperationUpdate]) -> CheckpointResult:
        with self._lock:
            now, changed, write = self._begin(token, updates)
            result = self._commit(write)
            return self._end(now, changed, write, result)

    def submit_checkpoint(
        self, token: int, updates: Sequence[OperationUpdate]
    ) -> Future[CheckpointResult]:
        """``checkpoint`` for an event loop: the commit joins the store's next shared one, and
        the future completes with the result (no thread waits for it)."""
        with self._lock:
            if self._failed is not None:
                raise self._failed
            now, changed, write = self._begin(token, updates)
            committed = self._store.submit_commit(write)
        result: Future[CheckpointResult] = Future()

        def settle(done: Future[CommitResult]) -> None:
            error = done.exception()
            if error is not None:
                self._failed = error
                result.set_exception(error)
                return
            with self._lock:
                try:
                    checkpoint = self._end(now, changed, write, done.result())
                except LeaseLost as lost:
                    result.set_exception(lost)
                    return
                result.set_result(checkpoint)

        committed.add_done_callback(settle)
        return result

    def _check_lease(self) -> None:
        """After a checkpoint's commit returned, right before the code that waited for it goes
        on (a step body, maybe): the lease must still hold. A commit can return long after it
        was sent (the database restarting meanwhile); the store fenced it at the time it was
        made, but once the lease has expired another worker may claim the execution at any
        moment and run that same next step. Stop instead; nothing more is written."""
        expires = self.lease_expires_at
        now = self._clock.now()
        if expires is not None and now >= expires:
            self._failed = LeaseLost(
                f'Execution "{self.execution_id}": its lease expired at {expires}, before the '
                f"checkpoint committed at {now} could go on (the worker's renewals failed or "
                "came late). The invocation stops; the execution's next holder carries it on "
                "from what is recorded.",
                execution_id=self.execution_id, lease_token=self.lease_token,
            )
            raise self._failed

    def _begin(
        self, token: int, updates: Sequence[OperationUpdate]
    ) -> tuple[float, list[Operation], JournalWrite]:
        if token != self._token:
            raise LeaseLost(
                f'Execution "{self.execution_id}": checkpoint token {token} is stale (the '
                f"current one is {self._token}); each checkpoint must use the token the "
                "previous one returned.",
                execution_id=self.execution_id, token=token,
            )
        now = self._clock.now()
        changed = self._apply(updates, now)
        self._token += 1
        return now, changed, self._write(now)

    def _end(
        self, now: float, changed: list[Operation], write: JournalWrite, result: CommitResult
    ) -> CheckpointResult:
        if write.start_children and self._tree is not None:
            self._tree.started()
        self._cancel_requested = self._cancel_requested or result.cancel_requested
        self._check_lease()
        # Past its timeout, the execution stops at its next operation like a cancelled one;
        # finish() then records it as TIMED_OUT.
        stop = result.cancel_requested or timed_out(self.execution, now)
        return CheckpointResult(self._token, tuple(changed), stop, self.handback)

    def get_state(self, token: int) -> list[Operation]:
        with self._lock:
            return list(self.operations.values())

    # --- the end -------------------------------------------------------------------------------

    def finish(self, outcome: InvocationOutcome) -> ExecutionStatus:
        """Commit the invocation's last updates with its ending, in one write."""
        with self._lock:
            write, status = self._final_write(outcome)
            self._commit(write)
        return status

    async def afinish(self, outcome: InvocationOutcome) -> ExecutionStatus:
        """``finish`` on an event loop: the final commit joins the store's next shared one and
        is awaited, so the loop's other invocations run meanwhile."""
        with self._lock:
            write, status = self._final_write(outcome)
            if self._failed is not None:
                raise self._failed
            committed = self._store.submit_commit(write)
        try:
            await asyncio.wrap_future(committed)
        except BaseException as error:
            self._failed = error
            raise
        return status

    def _final_write(self, outcome: InvocationOutcome) -> tuple[JournalWrite, ExecutionStatus]:
        """The invocation's last write: its pending updates with the release (suspended) or
        the execution's ending; and the status the execution has once it is committed."""
        self.ending = True
        now = self._clock.now()
        changed = self._apply(outcome.pending, now)
        ending, error = self._ending(outcome, now)
        if ending is not Ending.SUSPENDED:
            for op, events in end_operations(list(self.operations.values()), now):
                self._keep(op, events)
        completed: dict[str, object] = {
            "ending": ending.value, "started_at": self._started,
            "duration": now - self._started, "invocation": self.execution.invocations}
        if ending is Ending.SUSPENDED and error is not None:
            completed["error"] = error.to_json()  # the invocation crashed; it runs again
        self._events.append(NewEvent(type="InvocationCompleted", details=completed))
        if ending is Ending.SUSPENDED:
            # A wait recorded only now may have received its event here: run again to see it.
            immediate = outcome.immediate or any(
                op.subtype == WAIT_FOR_EVENT and op.status.finished for op in changed)
            ready_at = now if immediate else transitions.next_due(self.operations.values(), now)
            if outcome.retry_after is not None:
                ready_at = earliest(ready_at, now + outcome.retry_after)
            ready_at = earliest(ready_at, self.execution.timeout_at)
            waiting = blocked.recorded_wait(self.operations.values())
            return (self._write(now, release=True, ready_at=ready_at, blocked_on=waiting),
                    ExecutionStatus.RUNNING)
        event, status = _EXECUTION_EVENT[ending]
        details: dict[str, object] = {}
        result_from = None
        if error is not None:
            details["error"] = error.to_json()
        elif outcome.result is not None:
            result_from = RESULT_FROM_EXECUTION  # written to the execution's row below
        self._events.append(NewEvent(type=event, details=details, result_from=result_from))
        return self._write(now, outcome=Outcome(status, result=outcome.result, error=error),
                           alone=self._alone()), status

    def _alone(self) -> bool:
        # Children are only ever invoked through CHAINED_INVOKE operations of the journal.
        return self.execution.parent_execution_id is None and not any(
            op.type is OperationType.CHAINED_INVOKE for op in self.operations.values())

    def _ending(self, outcome: InvocationOutcome, now: float) -> tuple[Ending, ErrorRecord | None]:
        # A timeout ends a waiting or stopping execution; an explicit cancel stays a stop, and a
        # result that is already there is kept.
        ending = outcome.ending
        if ending is Ending.TIMED_OUT or (
            ending in (Ending.SUSPENDED, Ending.STOPPED) and timed_out(self.execution, now)
            and not (ending is Ending.STOPPED and self._cancel_requested)
        ):
            return Ending.TIMED_OUT, outcome.error or timeout_error(self.execution)
        return ending, outcome.error

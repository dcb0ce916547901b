"""What one invocation knows: the journal, pending checkpoint updates, and replay bookkeeping."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from functools import partial

from redwood.clock import Clock
from redwood.errors import LeaseLost, NonDeterminism
from redwood.model import Operation, OperationUpdate
from redwood.records import record
from redwood.sdk.lanes import Dependencies, Lane, current_lane
from redwood.sdk.seam import CheckpointResult, Seam
from redwood.sdk.signals import Stop, Suspend
from redwood.serde import Codec
from redwood.types import OperationType

_KIND = {
    OperationType.STEP: "step",
    OperationType.WAIT: "wait",
    OperationType.CONTEXT: "child context",
    OperationType.CALLBACK: "callback",
    OperationType.CHAINED_INVOKE: "invoke",
    OperationType.EXECUTION: "execution",
}


@record
class Options:
    """Per-invocation settings the SDK needs."""

    codec: Codec
    always_replay: bool = False
    # Threads that help run sync map/parallel branches (the calling thread always works too).
    branch_threads: Executor | None = None
    # Whether other invocations share the event loop now (async only): while none does, a
    # commit is cheaper made in the loop's thread than handed to the committer and awaited.
    loop_shared: Callable[[], bool] = lambda: True


class InvocationState:
    """Shared by every context of one invocation (the root and its children)."""

    def __init__(
        self, seam: Seam, operations: Iterable[Operation], clock: Clock, options: Options,
        function: str,
    ) -> None:
        self.seam = seam
        self.execution_id = seam.execution_id
        self.function = function
        self.clock = clock
        self.options = options
        self.codec = options.codec
        self.journal: dict[str, Operation] = {op.id: op for op in operations}
        # Replay lasts until the code has walked past every operation the journal holds as
        # finished (a timer fired at claim time included); whatever it does after that is new.
        self._unvisited = {op.id for op in self.journal.values() if op.status.finished}
        self.replaying = bool(self._unvisited)
        self.fatal: BaseException | None = None
        self._token = 0
        self._pending: list[OperationUpdate] = []
        self._dependencies = Dependencies()
        self._commit_lock = threading.Lock()
        self._lock = threading.Lock()
        self._stop = False
        self._handback = False

    # --- replay --------------------------------------------------------------------------------

    def lookup(
        self, op_id: str, op_type: OperationType, subtype: str | None, name: str | None,
        parent_id: str | None,
    ) -> Operation | None:
        """The journal's record for ``op_id``, checked against what the code calls now."""
        self._obey_engine()
        if self.fatal is not None:
            raise self.fatal
        op = self.journal.get(op_id)
        self._unvisited.discard(op_id)
        if op is None:
            self.replaying = False
            return None
        if op.type is not op_type or op.name != name or op.subtype != subtype \
                or op.parent_id != parent_id:
            self.fatal = self._nondeterminism(op, op_type, subtype, name, parent_id)
            raise self.fatal
        self.replaying = op.status.finished and bool(self._unvisited)
        return op

    def _nondeterminism(
        self, op: Operation, op_type: OperationType, subtype: str | None, name: str | None,
        parent_id: str | None,
    ) -> NonDeterminism:
        recorded = _describe(op.type, op.subtype, op.name, op.parent_id)
        called = _describe(op_type, subtype, name, parent_id)
        return NonDeterminism(
            f'Execution "{self.execution_id}", operation #{op.id}: the journal recorded '
            f"{recorded}, but the code now calls {called}. Durable code must call the same "
            "operations in the same order on every replay; give changed logic a new step name, "
            'guard it with ctx.patched("..."), or start new executions under a new function name.',
            execution_id=self.execution_id, position=op.id, recorded=recorded, called=called,
        )

    # --- checkpoints ---------------------------------------------------------------------------

    def record(self, update: OperationUpdate) -> None:
        """Queue ``update``; it becomes durable at the next flush or when the invocation ends."""
        lane = current_lane.get()
        with self._lock:
            self._pending.append(update)
            self._dependencies.add(update, lane)

    def flush(self) -> None:
        """Make every queued update durable before going on (one commit, shared under load)."""
        with self._commit_lock:
            self._commit(self._take(None, everything=True))
        self._obey_engine()

    def flush_for(self, lane: Lane | None) -> None:
        """Before a step body in ``lane`` runs: make durable what it depends on (everything
        queued, when anything it depends on is queued; see lanes.py)."""
        with self._commit_lock:
            self._commit(self._take(lane, everything=False))
        self._obey_engine()

    def flush_soon(self) -> None:
        """Commit what is queued unless a commit is under way (it leaves the rest for the next
        one): finished branches become durable without anyone waiting for them."""
        if self._commit_lock.acquire(blocking=False):
            try:
                self._commit(self._take(None, everything=True))
            finally:
                self._commit_lock.release()

    def _take(self, lane: Lane | None, everything: bool) -> list[OperationUpdate]:
        # Taken under the short lock, committed under the commit lock only: other threads keep
        # recording while a commit is on its way to disk.
        with self._lock:
            if not everything and not self._dependencies.pending_for(lane):
                return []
            updates, self._pending = self._pending, []
            self._dependencies.clear()
            return updates

    async def aflush(self, lane: Lane | None, causal: bool, io: Executor) -> None:
        """``flush`` / ``flush_for`` on an event loop: the commit is awaited, not waited for in
        a thread. When another commit of this invocation is under way, wait for it in a thread
        (the commit lock orders checkpoints, whichever path takes them)."""
        loop = asyncio.get_running_loop()
        if not self._commit_lock.acquire(blocking=False):
            await loop.run_in_executor(io, partial(self.flush_for, lane) if causal else self.flush)
            return
        try:
            updates = self._take(lane, everything=not causal)
            if updates and not self.options.loop_shared():
                # No other invocation on the loop: commit in this thread like a sync invocation
                # (no hand-off to the committer and back). Tasks of this invocation wait, but
                # none of them holds the commit lock, so none can be waited for in turn.
                self._commit(updates)
            elif updates:
                try:
                    committed = self.seam.submit_checkpoint(self._token, updates)
                    result = await asyncio.wrap_future(committed)
                except LeaseLost as error:
                    self.fatal = error
                    raise
                self._accept(result)
        finally:
            self._commit_lock.release()
        self._obey_engine()

    def _commit(self, updates: list[OperationUpdate]) -> None:
        if not updates:
            return
        try:
            result = self.seam.checkpoint(self._token, updates)
        except LeaseLost as error:
            # Another worker owns the execution now. Like a NonDeterminism, this must end
            # the invocation even if user code catches it: no later operation may run here.
            self.fatal = error
            raise
        self._accept(result)

    def _accept(self, result: CheckpointResult) -> None:
        self._token = result.token
        for op in result.operations:
            self.journal[op.id] = op
        self._stop = self._stop or result.cancel_requested
        self._handback = self._handback or result.handback

    def _obey_engine(self) -> None:
        # A flush comes right before user code runs (a step body): a cancel or a hand-back
        # learnt from its checkpoint must take effect before that code, not after it.
        if self._stop:
            raise Stop()
        if self._handback:
            raise Suspend("the worker is shutting down", immediate=True)

    def take_pending(self) -> list[OperationUpdate]:
        """Hand the not yet durable updates to the engine's final commit."""
        with self._lock:
            updates, self._pending = self._pending, []
            self._dependencies.clear()
            return updates

    def may_need_flush(self, lane: Lane | None, causal: bool) -> bool:
        """A lock-free first look: False only when a flush (causal or not) has nothing to do,
        not even waiting for a commit under way."""
        if self._commit_lock.locked():
            return True
        return self._dependencies.pending_for(lane) if causal else bool(self._pending)

    @property
    def stop_requested(self) -> bool:
        """Whether a cancel arrived through a checkpoint."""
        return self._stop


def _describe(op_type: OperationType, subtype: str | None, name: str | None,
              parent_id: str | None) -> str:
    kind = _KIND[op_type] if subtype is None else f"{_KIND[op_type]} ({subtype})"
    where = f" inside #{parent_id}" if parent_id else ""
    return f'{kind} "{name}"{where}' if name is not None else f"{kind}{where}"


class Scope:
    """Allocates operation ids inside one context: the parent's id and a per-parent counter."""

    __slots__ = ("_counter", "_lock", "parent_id", "prefix")

    def __init__(self, parent_id: str | None) -> None:
        self.parent_id = parent_id
        self.prefix = "" if parent_id is None else f"{parent_id}-"
        self._counter = 0
        self._lock = threading.Lock()

    def next_id(self) -> str:
        """The id of the next operation in this context."""
        with self._lock:
            self._counter += 1
            return f"{self.prefix}{self._counter}"

    def peek_id(self) -> str:
        """The id ``next_id`` would return, without taking it."""
        with self._lock:
            return f"{self.prefix}{self._counter + 1}"

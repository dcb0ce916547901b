"""The bookkeeping of one map/parallel call while its branches run: which branch runs next,
what each one ended with, and when the batch is complete. Shared by the thread and task runners."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from redwood.errors import ChildContextFailed
from redwood.sdk.batch import BatchItem, BatchResult, CompletionPolicy, CompletionReason, ItemStatus
from redwood.sdk.child import (
    BranchAbandoned,
    BranchScope,
    BranchToken,
    ContextSpec,
    context_failed,
    context_flow,
)
from redwood.sdk.effects import Flow
from redwood.sdk.signals import Suspend
from redwood.sdk.state import InvocationState, Scope
from redwood.serde import Codec
from redwood.types import OperationStatus

# Finished branches are committed together: after this many, or this long (execution clock)
# after the last such commit, whichever comes first. A crash loses at most that much work;
# everything else about a branch is committed as its own steps need it (see lanes.py).
COMMIT_EVERY = 32
COMMIT_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class Branch:
    """One unit of a batch: ``fn(ctx, *args)`` recorded as a branch named ``name``."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    name: str | None
    hint: Any


@dataclass(frozen=True, slots=True)
class BatchSpec:
    """A map or parallel call: its operation, its branches and when it is complete."""

    subtype: str
    branch_subtype: str
    name: str | None
    branches: Sequence[Branch]
    policy: CompletionPolicy
    max_concurrency: int | None
    codec: Codec


class Coordinator:
    """The batch's bookkeeping, shared by the threads or tasks that run its branches."""

    def __init__(self, state: InvocationState, op_id: str, spec: BatchSpec,
                 parent: BranchToken | None) -> None:
        self.state = state
        self.op_id = op_id
        self.spec = spec
        self.parent = parent
        self.statuses = [ItemStatus.NOT_STARTED] * len(spec.branches)
        self.values: dict[int, Any] = {}
        self.errors: dict[int, ChildContextFailed] = {}
        self._succeeded = 0
        self._failed = 0
        self.reason: CompletionReason | None = None
        self.crash: BaseException | None = None
        self.immediate = False
        self._tokens: dict[int, BranchToken] = {}
        self._lock = threading.Lock()
        self._queue: deque[int] = deque()
        self._unfinished: set[int] = set()  # started and not finished: running or waiting
        self._uncommitted = 0
        self._committed_at = state.clock.now()
        self._restore()

    def _restore(self) -> None:
        # Branches the journal already holds: finished ones count, unfinished ones resume first
        # (they already hold a concurrency slot); the rest start in index order.
        fresh = []
        for index, branch in enumerate(self.spec.branches):
            op = self.state.journal.get(self.branch_id(index))
            if op is None:
                fresh.append(index)
            elif op.status is OperationStatus.SUCCEEDED:
                what = f'the result of branch #{op.id}'
                self._done(index, ItemStatus.SUCCEEDED,
                           value=self.spec.codec.decode(op.result, branch.hint, what))
            elif op.status.finished:
                self._done(index, ItemStatus.FAILED, error=context_failed(self.state, op))
            else:
                self._unfinished.add(index)
                self._queue.append(index)
        self._queue.extend(fresh)
        self._decide()

    def branch_id(self, index: int) -> str:
        """The operation id of branch ``index``: the batch's id and the index, from 1."""
        return f"{self.op_id}-{index + 1}"

    def branch_spec(self, index: int) -> ContextSpec:
        """What branch ``index`` records."""
        branch = self.spec.branches[index]
        return ContextSpec(self.branch_id(index), self.op_id, self.spec.branch_subtype,
                           branch.name, self.spec.codec, branch.hint)

    def token(self, index: int) -> BranchToken:
        """The abandonment token of branch ``index`` (handed out by ``next_branch``)."""
        with self._lock:
            return self._tokens[index]

    # --- scheduling ----------------------------------------------------------------------------

    @property
    def runnable(self) -> int:
        """How many branches could run now (an upper bound for threads or tasks to start)."""
        with self._lock:
            return 0 if self.done else len(self._queue)

    @property
    def done(self) -> bool:
        """True once the batch is complete or a branch crashed it."""
        return self.reason is not None or self.crash is not None

    def next_branch(self) -> int | None:
        """The next branch to run, or None when nothing may start now."""
        with self._lock:
            if self.done or not self._queue:
                return None
            index = self._queue[0]
            fresh = index not in self._unfinished
            limit = self.spec.max_concurrency
            if fresh and limit is not None and len(self._unfinished) >= limit:
                return None
            self._queue.popleft()
            self._tokens[index] = BranchToken(self.parent)
            self._unfinished.add(index)
            return index

    # --- outcomes (called from the branch's thread or task) ------------------------------------

    def succeeded(self, index: int, value: Any) -> bool:
        """Branch ``index`` returned ``value``; True when finished branches should be committed
        now (``InvocationState.flush_soon``)."""
        return self._finish(index, ItemStatus.SUCCEEDED, value, None)

    def settle(self, index: int, error: BaseException) -> bool:
        """Branch ``index`` ended by raising ``error``: it failed (its own ChildContextFailed),
        waits (Suspend: it keeps its slot), was abandoned, or crashed the whole batch. True when
        finished branches should be committed now."""
        if isinstance(error, ChildContextFailed):
            return self._finish(index, ItemStatus.FAILED, None, error)
        if isinstance(error, Suspend):
            with self._lock:
                self.immediate = self.immediate or error.immediate
        elif not isinstance(error, BranchAbandoned):
            self.crashed(error)
        return False

    def crashed(self, error: BaseException) -> None:
        """Stop, NonDeterminism, a lost lease...: the whole invocation must unwind."""
        with self._lock:
            self.crash = self.crash or error
            self._abandon()

    def _finish(self, index: int, status: ItemStatus, value: Any,
                error: ChildContextFailed | None) -> bool:
        with self._lock:
            self._done(index, status, value, error)
            self._decide()
            self._uncommitted += 1
            now = self.state.clock.now()
            if self._uncommitted < COMMIT_EVERY and now - self._committed_at < COMMIT_INTERVAL:
                return False
            self._uncommitted = 0
            self._committed_at = now
            return True

    def _done(self, index: int, status: ItemStatus, value: Any = None,
              error: ChildContextFailed | None = None) -> None:
        self.statuses[index] = status
        self._unfinished.discard(index)
        if status is ItemStatus.SUCCEEDED:
            self.values[index] = value
            self._succeeded += 1
        else:
            self._failed += 1
            if error is not None:
                self.errors[index] = error

    def _decide(self) -> None:
        if self.reason is not None:
            return
        self.reason = self.spec.policy.reason(self._succeeded, self._failed, len(self.statuses))
        if self.reason is not None:
            self._abandon()

    def _abandon(self) -> None:
        # Branches still running stop at their next operation.
        for token in self._tokens.values():
            token.abandoned = True

    # --- the end -------------------------------------------------------------------------------

    def unfinished(self) -> set[int]:
        """Branches started but not finished (waiting, or abandoned when the batch completed)."""
        return set(self._unfinished)

    def result(self) -> BatchResult[Any]:
        """The batch's outcome, in index order: started and unfinished branches are CANCELLED
        (the batch flow cancels their pending operations)."""
        assert self.reason is not None
        items = tuple(
            BatchItem(i, ItemStatus.CANCELLED if i in self._unfinished else status,
                      self.values.get(i), self.errors.get(i))
            for i, status in enumerate(self.statuses))
        return BatchResult(items, self.reason)


def branch_flow(coordinator: Coordinator, index: int, make_ctx: Callable[[Scope], Any]
                ) -> Flow[Any]:
    """The child-context flow of branch ``index``, in a scope that stops when abandoned."""
    spec = coordinator.branch_spec(index)
    branch = coordinator.spec.branches[index]
    ctx = make_ctx(BranchScope(spec.op_id, coordinator.token(index)))
    return context_flow(coordinator.state, spec, branch.fn, (ctx, *branch.args))

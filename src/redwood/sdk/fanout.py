"""``ctx.map`` and ``ctx.parallel``: branches that run concurrently inside one invocation.

One flow serves both faces; only the runner differs (threads for sync code, asyncio tasks for
async code). Each branch is a child context whose id comes from its index. A branch that waits
suspends only itself; the invocation suspends when no branch can run. ``max_concurrency`` bounds
the branches started and not finished, waiting ones included, so it also bounds outside work
(jobs submitted, callbacks outstanding) and not just threads.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redwood.errors import ChildContextFailed, NonDeterminism, ValidationError
from redwood.model import OperationUpdate
from redwood.sdk.batch import (
    BatchItem,
    BatchResult,
    CompletionPolicy,
    CompletionReason,
    ItemStatus,
    check_max_concurrency,
    decode_summary,
    encode_summary,
)
from redwood.sdk.child import (
    BranchAbandoned,
    BranchScope,
    BranchToken,
    ContextSpec,
    branch_token,
    context_failed,
    context_flow,
)
from redwood.sdk.effects import FLUSH, Call, Flow
from redwood.sdk.signals import Suspend
from redwood.sdk.state import InvocationState, Scope
from redwood.serde import Codec, return_hint
from redwood.types import OperationAction, OperationStatus, OperationType

MAP = "Map"
PARALLEL = "Parallel"

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
        self._in_flight = 0  # started and not finished: running or waiting
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
                self.statuses[index] = ItemStatus.CANCELLED
                self._queue.append(index)
                self._in_flight += 1
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
            fresh = self.statuses[index] is ItemStatus.NOT_STARTED
            limit = self.spec.max_concurrency
            if fresh and limit is not None and self._in_flight >= limit:
                return None
            self._queue.popleft()
            self._tokens[index] = BranchToken(self.parent)
            if fresh:
                self._in_flight += 1
                self.statuses[index] = ItemStatus.CANCELLED  # started; final status comes later
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
            self._in_flight -= 1
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
        return {i for i, status in enumerate(self.statuses) if status is ItemStatus.CANCELLED}

    def result(self) -> BatchResult[Any]:
        """The batch's outcome, in index order."""
        assert self.reason is not None
        items = tuple(BatchItem(i, status, self.values.get(i), self.errors.get(i))
                      for i, status in enumerate(self.statuses))
        return BatchResult(items, self.reason)


class Runner(Protocol):
    """Runs a coordinator's branches: ``run`` is a plain method (threads) or a coroutine
    method (asyncio tasks); the drivers call it as the ``Call`` effect of the batch flow."""

    @property
    def run(self) -> Callable[[Coordinator], Any]: ...


def branch_flow(coordinator: Coordinator, index: int, make_ctx: Callable[[Scope], Any]
                ) -> Flow[Any]:
    """The child-context flow of branch ``index``, in a scope that stops when abandoned."""
    spec = coordinator.branch_spec(index)
    branch = coordinator.spec.branches[index]
    ctx = make_ctx(BranchScope(spec.op_id, coordinator.token(index)))
    return context_flow(coordinator.state, spec, branch.fn, (ctx, *branch.args))


def batch_flow(state: InvocationState, scope: Scope, spec: BatchSpec, runner: Runner
               ) -> Flow[BatchResult[Any]]:
    """The batch's life: replay its recorded outcome, or run the branches that can run now and
    either complete (recording the outcome) or suspend until a waiting branch can go on."""
    op_id = scope.next_id()
    op = state.lookup(op_id, OperationType.CONTEXT, spec.subtype, spec.name, scope.parent_id)
    if op is not None and op.status is OperationStatus.SUCCEEDED:
        return _replayed(state, op_id, op.result, spec)
    if op is None:
        state.record(_update(op_id, scope, spec, OperationAction.START))
    coordinator = Coordinator(state, op_id, spec, branch_token(scope))
    if not coordinator.done:
        yield Call(runner.run, (coordinator,), {})
    if coordinator.crash is not None:
        raise coordinator.crash
    if coordinator.reason is None:
        raise Suspend(f"{spec.subtype.lower()} #{op_id} waits for its branches",
                      immediate=coordinator.immediate)
    unfinished = coordinator.unfinished()
    if unfinished:
        # What those branches queued must be in the journal before their timers are cleared.
        yield FLUSH
        _cancel_branches(state, op_id, unfinished)
    result = coordinator.result()
    summary = encode_summary(result.completion_reason, coordinator.statuses)
    state.record(_update(op_id, scope, spec, OperationAction.SUCCEED, payload=summary))
    return result


def _cancel_branches(state: InvocationState, op_id: str, indexes: set[int]) -> None:
    prefix = f"{op_id}-"
    for op in list(state.journal.values()):
        if op.status.finished or not op.id.startswith(prefix):
            continue
        index = int(op.id[len(prefix):].split("-", 1)[0]) - 1
        if index in indexes:
            state.record(OperationUpdate(
                id=op.id, parent_id=op.parent_id, type=op.type, action=OperationAction.CANCEL,
                name=op.name, subtype=op.subtype,
                details={"reason": "the batch completed before this branch finished"},
            ))


def _replayed(state: InvocationState, op_id: str, text: str | None, spec: BatchSpec
              ) -> BatchResult[Any]:
    reason, statuses = decode_summary(text)
    if len(statuses) != len(spec.branches):
        state.fatal = NonDeterminism(
            f'Execution "{state.execution_id}", operation #{op_id}: the journal recorded '
            f"{spec.subtype.lower()} \"{spec.name}\" over {len(statuses)} branches, but the code "
            f"now passes {len(spec.branches)}. The items of a map (and the branches of a "
            "parallel) must be the same on every replay; compute them in a step.",
            execution_id=state.execution_id, position=op_id,
        )
        raise state.fatal
    items = []
    for index, status in enumerate(statuses):
        op = state.journal.get(f"{op_id}-{index + 1}")
        value, error = None, None
        if status is ItemStatus.SUCCEEDED and op is not None:
            what = f'the result of branch #{op.id}'
            value = spec.codec.decode(op.result, spec.branches[index].hint, what)
        elif status is ItemStatus.FAILED and op is not None:
            error = context_failed(state, op)
        items.append(BatchItem(index, status, value, error))
    return BatchResult(tuple(items), reason)


def _update(op_id: str, scope: Scope, spec: BatchSpec, action: OperationAction,
            payload: str | None = None) -> OperationUpdate:
    return OperationUpdate(
        id=op_id, parent_id=scope.parent_id, type=OperationType.CONTEXT, action=action,
        name=spec.name, subtype=spec.subtype, payload=payload,
        details={"branches": len(spec.branches), "max_concurrency": spec.max_concurrency}
        if action is OperationAction.START else None,
    )


def map_spec(items: Iterable[Any], fn: Callable[..., Any], name: str | None, codec: Codec,
             max_concurrency: int | None, policy: CompletionPolicy) -> BatchSpec:
    """A ``ctx.map`` call: ``fn(ctx, item)`` for each item, as MapIteration branches."""
    label = name or getattr(fn, "__name__", None)
    what = f'ctx.map "{label}"'
    if not callable(fn):
        raise ValidationError(f"{what}: fn must be callable, got {fn!r}.", what=what)
    hint = return_hint(fn)
    branches = [Branch(fn, (item,), None, hint) for item in items]
    return _spec(MAP, "MapIteration", label, branches, codec, max_concurrency, policy, what)


def parallel_spec(fns: Iterable[Callable[..., Any]], name: str | None, codec: Codec,
                  max_concurrency: int | None, policy: CompletionPolicy) -> BatchSpec:
    """A ``ctx.parallel`` call: each ``fn(ctx)`` as a ParallelBranch named after ``fn``."""
    what = f'ctx.parallel "{name}"' if name else "ctx.parallel"
    branches = []
    for index, fn in enumerate(fns):
        if not callable(fn):
            raise ValidationError(
                f"{what}: branch {index} must be a callable taking the context, got {fn!r}.",
                what=what, index=index,
            )
        branches.append(Branch(fn, (), getattr(fn, "__name__", None), return_hint(fn)))
    return _spec(PARALLEL, "ParallelBranch", name, branches, codec, max_concurrency, policy,
                 what)


def _spec(subtype: str, branch_subtype: str, name: str | None, branches: list[Branch],
          codec: Codec, max_concurrency: int | None, policy: CompletionPolicy, what: str
          ) -> BatchSpec:
    policy.check(what)
    limit = check_max_concurrency(max_concurrency, what)
    return BatchSpec(subtype, branch_subtype, name, branches, policy, limit, codec)

"""``ctx.map`` and ``ctx.parallel``: branches that run concurrently inside one invocation.

One flow serves both faces; only the runner differs (threads for sync code, asyncio tasks for
async code). Each branch is a child context whose id comes from its index. A branch that waits
suspends only itself; the invocation suspends when no branch can run. ``max_concurrency`` bounds
the branches started and not finished, waiting ones included, so it also bounds outside work
(jobs submitted, callbacks outstanding) and not just threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from redwood.errors import NonDeterminism, ValidationError
from redwood.model import OperationUpdate
from redwood.sdk.batch import (
    BatchItem,
    BatchResult,
    CompletionPolicy,
    ItemStatus,
    check_max_concurrency,
    decode_summary,
    encode_summary,
)
from redwood.sdk.child import branch_token, context_failed
from redwood.sdk.coordinator import BatchSpec, Branch, Coordinator
from redwood.sdk.effects import FLUSH, Call, Flow
from redwood.sdk.signals import Suspend
from redwood.sdk.state import InvocationState, Scope
from redwood.serde import Codec, return_hint
from redwood.types import OperationAction, OperationStatus, OperationType

MAP = "Map"
PARALLEL = "Parallel"


def batch_flow(state: InvocationState, scope: Scope, spec: BatchSpec,
               run: Callable[[Coordinator], Any]) -> Flow[BatchResult[Any]]:
    """The batch's life: replay its recorded outcome, or run the branches that can run now and
    either complete (recording the outcome) or suspend until a waiting branch can go on.

    ``run`` runs branches until none can run now: a plain function (threads) or a coroutine
    function (asyncio tasks), carried out as the flow's ``Call`` effect."""
    op_id = scope.next_id()
    op = state.lookup(op_id, OperationType.CONTEXT, spec.subtype, spec.name, scope.parent_id)
    if op is not None and op.status is OperationStatus.SUCCEEDED:
        return _replayed(state, op_id, op.result, spec)
    if op is None:
        state.record(_update(op_id, scope, spec, OperationAction.START))
    coordinator = Coordinator(state, op_id, spec, branch_token(scope))
    if not coordinator.done:
        yield Call(run, (coordinator,), {})
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
    summary = encode_summary(result.completion_reason, [item.status for item in result.items])
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

"""``ctx.patched``: change the code of a durable function while old executions are in flight."""

from __future__ import annotations

from redwood.model import OperationUpdate
from redwood.sdk.state import InvocationState, Scope
from redwood.types import OperationAction, OperationType

PATCH = "Patch"


def patched(state: InvocationState, scope: Scope, patch_id: str) -> bool:
    """True where the new code path applies: new executions, and old ones that have not yet
    reached this point. False for executions whose journal already recorded the old path here."""
    op_id = scope.peek_id()
    recorded = state.journal.get(op_id)
    if recorded is not None and not (recorded.subtype == PATCH and recorded.name == patch_id):
        return False
    scope.next_id()
    state.lookup(op_id, OperationType.STEP, PATCH, patch_id, scope.parent_id)
    if recorded is None:
        state.record(OperationUpdate(
            id=op_id, parent_id=scope.parent_id, type=OperationType.STEP,
            action=OperationAction.SUCCEED, name=patch_id, subtype=PATCH, payload="true",
        ))
    return True

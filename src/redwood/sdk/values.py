"""Deterministic helpers: ``ctx.now()``, ``ctx.random()``, ``ctx.uuid4()``.

Each value is recorded on first run and replayed afterwards. Recording is deferred to the next
commit: a value nobody persisted anything with may be drawn again after a crash, harmlessly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from redwood.model import OperationUpdate
from redwood.sdk.state import InvocationState, Scope
from redwood.types import OperationAction, OperationStatus, OperationType


def value(state: InvocationState, scope: Scope, kind: str, produce: Callable[[], Any]) -> Any:
    """The recorded value of this ``kind`` at this position, produced once."""
    op_id = scope.next_id()
    op = state.lookup(op_id, OperationType.STEP, kind, kind, scope.parent_id)
    if op is not None and op.status is OperationStatus.SUCCEEDED and op.result is not None:
        return json.loads(op.result)
    produced = produce()
    state.record(OperationUpdate(
        id=op_id, parent_id=scope.parent_id, type=OperationType.STEP,
        action=OperationAction.SUCCEED, name=kind, subtype=kind, payload=json.dumps(produced),
    ))
    return produced

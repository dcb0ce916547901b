"""The SDK's side of the seam: what an invocation needs from the engine, and nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol

from redwood.model import Operation, OperationUpdate
from redwood.records import record


@record
class CheckpointResult:
    """The new checkpoint token, the operations the updates changed, and whether to stop
    (cancelled) or to hand the execution back (the worker is shutting down)."""

    token: int
    operations: tuple[Operation, ...]
    cancel_requested: bool = False
    handback: bool = False


class Seam(Protocol):
    """``checkpoint`` and ``get_state``, as in the AWS durable execution data plane."""

    execution_id: str

    def checkpoint(self, token: int, updates: Sequence[OperationUpdate]) -> CheckpointResult:
        """Record ``updates`` durably; a stale ``token`` is refused."""
        ...

    def submit_checkpoint(
        self, token: int, updates: Sequence[OperationUpdate]
    ) -> Future[CheckpointResult]:
        """``checkpoint`` without blocking: for invocations running on an event loop."""
        ...

    def get_state(self, token: int) -> list[Operation]:
        """The journal as the engine holds it now."""
        ...

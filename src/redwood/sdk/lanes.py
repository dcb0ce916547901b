"""Lanes: the concurrent lines of control inside one invocation (the root, and each map/parallel
branch nested in it). Before a step body runs, only the updates it depends on must be durable:
those recorded in its own lane, the lanes it was started from, and the lanes it waited for (its
descendants). What concurrent siblings recorded is independent of it and can wait for a later
commit, so a thousand branches share one commit instead of queueing for a thousand.
"""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar

from redwood.model import OperationUpdate
from redwood.types import OperationAction, OperationType


class Lane:
    """One branch's line of control; ``parent`` is the lane that started its batch."""

    __slots__ = ("parent",)

    def __init__(self, parent: Lane | None) -> None:
        self.parent = parent

    def lineage(self) -> list[Lane]:
        """This lane and its ancestors, innermost first."""
        lanes: list[Lane] = []
        lane: Lane | None = self
        while lane is not None:
            lanes.append(lane)
            lane = lane.parent
        return lanes


# The lane the running code belongs to: set per thread (sync branches) or per task (async ones).
current_lane: ContextVar[Lane | None] = ContextVar("redwood_lane", default=None)


class Dependencies:
    """Counts the pending updates that later step bodies may depend on, by lane."""

    __slots__ = ("_own", "_subtree")

    def __init__(self) -> None:
        self._own: Counter[Lane | None] = Counter()  # recorded in exactly this lane
        self._subtree: Counter[Lane] = Counter()  # recorded in this lane or below it

    def add(self, update: OperationUpdate, lane: Lane | None) -> None:
        """Note ``update``, recorded in ``lane``."""
        # Opening a context records nothing a step body could depend on.
        if update.type is OperationType.CONTEXT and update.action is OperationAction.START:
            return
        self._own[lane] += 1
        if lane is not None:
            for holder in lane.lineage():
                self._subtree[holder] += 1

    def clear(self) -> None:
        """Everything pending became durable (or was handed to the final commit)."""
        self._own.clear()
        self._subtree.clear()

    def pending_for(self, lane: Lane | None) -> bool:
        """Whether a step body in ``lane`` depends on an update not yet durable."""
        if lane is None:
            return bool(self._own)
        if self._own[None] or self._subtree[lane]:
            return True
        return any(self._own[ancestor] for ancestor in lane.lineage()[1:])

"""What the API and the dashboard read, each in a bounded number of indexed queries."""

from __future__ import annotations

from dataclasses import dataclass, replace

from redwood.app import App
from redwood.engine.blocked import BlockedOn
from redwood.engine.blocked import load as load_blocked
from redwood.model import Execution, ExecutionFilter, HistoryEvent, Operation
from redwood.server.query import HistoryFilter, HistoryQuery, encode_cursor
from redwood.types import ExecutionStatus

MAX_CHILDREN = 200
# A filtered history page reads at most this many events before answering with what it found:
# an execution with a long history must not turn one request into a full scan.
_HISTORY_SCAN = 5000
_FAILED_SUFFIXES = ("Failed", "TimedOut")


@dataclass(frozen=True, slots=True)
class ExecutionPage:
    """One page of the list and the cursor of the next one (None: this is the last)."""

    executions: list[Execution]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """One execution with what it is blocked on and its child executions."""

    execution: Execution
    blocked: list[BlockedOn]
    children: list[Execution]
    operations: list[Operation]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Events of one page, and the ``after`` of the next page (None: nothing more yet)."""

    events: list[HistoryEvent]
    next_after: int | None


class Reads:
    """Read queries over one app's store."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.store = app.store

    def now(self) -> float:
        """The app's clock."""
        return self.app.clock.now()

    def page(self, where: ExecutionFilter) -> ExecutionPage:
        """Executions matching ``where``, newest first, one page (keyset paging)."""
        rows = self.store.list_executions(replace(where, limit=where.limit + 1))
        more = len(rows) > where.limit
        rows = rows[: where.limit]
        cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
        return ExecutionPage(rows, cursor)

    def counts(self, where: ExecutionFilter) -> dict[str, int]:
        """How many executions match ``where`` per status (every status named, zeros too)."""
        found = self.store.count_by_status(where)
        return {status.value: found.get(status, 0) for status in ExecutionStatus}

    def view(self, execution_id: str) -> ExecutionView:
        """The execution, its journal, its children and what it is blocked on now."""
        execution = self.app.client.get(execution_id)
        operations = self.store.operations(execution_id)
        children = self.store.list_executions(
            ExecutionFilter(parent_execution_id=execution_id, limit=MAX_CHILDREN))
        blocked = load_blocked(self.store, execution, operations, self.now(),
                               {child.id: child for child in children})
        return ExecutionView(execution, blocked, children, operations)

    def history(
        self, execution_id: str, query: HistoryQuery, operations: list[Operation] | None = None
    ) -> HistoryPage:
        """A page of the execution's history; ``pending`` keeps events of unfinished operations."""
        self.app.client.get(execution_id)
        if query.only is HistoryFilter.ALL:
            events = self.store.history(execution_id, query.after, query.limit)
            full = len(events) == query.limit
            return HistoryPage(events, events[-1].id if full else None)
        if query.only is HistoryFilter.PENDING and operations is None:
            operations = self.store.operations(execution_id)
        open_ops = {op.id for op in operations or () if not op.status.finished}
        kept: list[HistoryEvent] = []
        after, scanned = query.after, 0
        while len(kept) < query.limit and scanned < _HISTORY_SCAN:
            batch = self.store.history(execution_id, after, min(1000, _HISTORY_SCAN - scanned))
            if not batch:
                return HistoryPage(kept, None)
            scanned += len(batch)
            for event in batch:
                after = event.id
                if _keep(event, query.only, open_ops):
                    kept.append(event)
                    if len(kept) == query.limit:
                        break
        return HistoryPage(kept, after)


def _keep(event: HistoryEvent, only: HistoryFilter, open_ops: set[str]) -> bool:
    if only is HistoryFilter.FAILED:
        return event.type.endswith(_FAILED_SUFFIXES)
    return event.operation_id is not None and event.operation_id in open_ops

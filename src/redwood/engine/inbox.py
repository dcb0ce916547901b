"""One invocation's view of its execution's event inbox: read once, on first need, and handed out
oldest first, each event to exactly one ``wait_for_event``."""

from __future__ import annotations

from redwood.model import InboxEvent, Operation
from redwood.store.base import Store


class Inbox:
    """The events waiting for one execution, and those this invocation delivered but not yet
    wrote (the next commit consumes them, atomically with the operations that received them)."""

    def __init__(self, store: Store, execution_id: str) -> None:
        self._store = store
        self._execution_id = execution_id
        self._waiting: list[InboxEvent] | None = None
        self._taken: list[tuple[int, str]] = []

    def take(self, wait: Operation) -> InboxEvent | None:
        """The oldest event named like ``wait`` that was sent before the wait's deadline."""
        if self._waiting is None:
            # Events sent after this read find the execution held: its release wakes it again.
            self._waiting = self._store.inbox(self._execution_id)
        for index, event in enumerate(self._waiting):
            if event.name == wait.name and (wait.due_at is None or event.sent_at <= wait.due_at):
                del self._waiting[index]
                self._taken.append((event.id, wait.id))
                return event
        return None

    def drain(self) -> tuple[tuple[int, str], ...]:
        """The (event id, operation id) pairs delivered since the last call, for the next write."""
        taken, self._taken = tuple(self._taken), []
        return taken

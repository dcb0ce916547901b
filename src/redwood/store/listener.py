"""PostgreSQL LISTEN/NOTIFY turned into a counter: the change marker of the PostgreSQL store.

Idle workers and result waiters compare the counter with the value they last saw (a memory read),
so they wake within milliseconds of a notification without ever polling a table.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

import psycopg

CHANNEL = "redwood"

_logger = logging.getLogger("redwood.store.postgres")


class Listener:
    """One connection that LISTENs on the "redwood" channel and counts what arrives.

    A reconnect bumps the count too: notifications sent while the connection was down are lost,
    so whoever waits must look again rather than sleep through them.
    """

    def __init__(self, url: str, poll: float = 0.5) -> None:
        self.marker = 0
        self._url = url
        self._poll = poll
        self._closing = threading.Event()
        # Subscribed before the constructor returns: a commit right after it is not missed.
        self._connection: psycopg.Connection[Any] | None = self._connect()
        self._thread = threading.Thread(target=self._run, daemon=True, name="redwood-listen")
        self._thread.start()

    def _connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(self._url, autocommit=True)
        connection.execute(f"LISTEN {CHANNEL}")
        return connection

    def close(self) -> None:
        """Stop listening; the thread closes its connection within ``poll`` seconds."""
        self._closing.set()

    def _run(self) -> None:
        delay = 0.05
        while not self._closing.is_set():
            try:
                if self._connection is None:
                    self._connection = self._connect()
                    self.marker += 1
                    delay = 0.05
                for _ in self._connection.notifies(timeout=self._poll):
                    # Only this thread writes the counter, so the GIL makes += safe here.
                    self.marker += 1
            except psycopg.Error as error:
                _logger.warning("listener connection lost (%s); reconnecting in %.2fs",
                                error, delay)
                self._drop()
                self.marker += 1
                self._closing.wait(delay)
                delay = min(delay * 2, 2.0)
        self._drop()

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()

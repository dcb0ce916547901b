"""PostgreSQL LISTEN/NOTIFY turned into a counter: the change marker of the PostgreSQL store.

Idle workers and result waiters compare the counter with the value they last saw (a memory read),
so they wake within milliseconds of a notification without ever polling a table.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from redwood.store.common import CHANNEL, FINISHED_CHANNEL

# For every connection of the store. TCP keepalives find a server that vanished without closing
# the connection, so an idle listener notices without sending a single query.
CONNECTION_OPTIONS: dict[str, Any] = {"connect_timeout": 10, "keepalives": 1,
                                      "keepalives_idle": 30, "keepalives_interval": 10,
                                      "keepalives_count": 3}

_logger = logging.getLogger("redwood.store.postgres")
_READY = CHANNEL.encode()


class Listener:
    """One connection that LISTENs on the "redwood" channel (work is ready) and the
    "redwood_finished" one, counts what arrives, and passes each notification's execution id to
    the callbacks (at once: no waiter needs to poll). ``marker`` counts every notification,
    ``ready_marker`` only those of ready work, which is all an idle worker wakes for.

    A reconnect bumps both counts: notifications sent while the connection was down are lost,
    so whoever waits must look again rather than sleep through them.
    """

    def __init__(self, url: str) -> None:
        self.marker = 0
        self.ready_marker = 0
        self.callbacks: list[Callable[[str, bool], None]] = []
        self._url = url
        self._closing = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        # Subscribed before the constructor returns: a commit right after it is not missed.
        self._connection: psycopg.Connection[Any] | None = self._connect()
        self._thread = threading.Thread(target=self._run, daemon=True, name="redwood-listen")
        self._thread.start()

    def _connect(self) -> psycopg.Connection[Any]:
        connection = psycopg.connect(self._url, autocommit=True, **CONNECTION_OPTIONS)
        connection.execute(f"LISTEN {CHANNEL}")
        connection.execute(f"LISTEN {FINISHED_CHANNEL}")
        return connection

    def close(self) -> None:
        """Stop listening and close the connection (once; later calls do nothing)."""
        if self._closing.is_set():
            return
        self._closing.set()
        os.write(self._wake_write, b"x")
        self._thread.join(timeout=5.0)
        if not self._thread.is_alive():
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _run(self) -> None:
        delay = 0.05
        while not self._closing.is_set():
            try:
                if self._connection is None:
                    self._connection = self._connect()
                    self._bump(ready=True)
                    delay = 0.05
                self._count(self._connection)
            except Exception as error:
                # Whatever broke, the listener must not die: its waiters would sleep forever.
                self._drop()
                self._bump(ready=True)
                if self._closing.is_set():
                    break
                _logger.warning("listener connection lost (%s); reconnecting in %.2fs",
                                error, delay, exc_info=not isinstance(error, psycopg.Error))
                self._closing.wait(delay)
                delay = min(delay * 2, 2.0)
        self._drop()

    def _count(self, connection: psycopg.Connection[Any]) -> None:
        """Count notifications until closing; raise when the connection breaks."""
        pgconn = connection.pgconn
        socket = connection.fileno()
        # poll, not select: no limit on descriptor numbers in a process with many files open.
        poller = select.poll()
        poller.register(socket, select.POLLIN)
        poller.register(self._wake_read, select.POLLIN)
        while not self._closing.is_set():
            for fd, events in poller.poll():
                if fd != socket:
                    continue
                if events & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    raise psycopg.OperationalError("the listener connection was closed")
                pgconn.consume_input()
                while (notification := pgconn.notifies()) is not None:
                    ready = notification.relname == _READY
                    self._bump(ready)
                    self._tell(notification.extra.decode(), ready)
                if pgconn.status != psycopg.pq.ConnStatus.OK:
                    raise psycopg.OperationalError("the listener connection was closed")

    def _bump(self, ready: bool) -> None:
        # Only this thread writes the counters, so the GIL makes += safe here.
        self.marker += 1
        if ready:
            self.ready_marker += 1

    def _tell(self, execution_id: str, ready: bool) -> None:
        for callback in list(self.callbacks):
            try:
                callback(execution_id, ready)
            except Exception:
                _logger.exception("change callback %r failed", callback)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()

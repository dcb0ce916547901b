"""The baseline's external store: Redis on 127.0.0.1:6379 when it runs, else a SQLite file.
Every call is one store operation, and is counted."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Protocol

try:  # the "bench" extra
    import redis
except ImportError:  # pragma: no cover - depends on the installed extras
    redis = None  # type: ignore[assignment]


class KV(Protocol):
    """The few operations a stateless function uses."""

    name: str
    ops: int

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...

    def incr(self, key: str, by: int = 1) -> int: ...

    def forget(self, prefix: str) -> None: ...


class Counted:
    """Counts operations (thread-safe: chunk handlers run concurrently)."""

    def __init__(self) -> None:
        self.ops = 0
        self._count_lock = threading.Lock()

    def _count(self) -> None:
        with self._count_lock:
            self.ops += 1


class RedisKV(Counted):
    """Redis, the usual store of a stateless function's state."""

    name = "redis"

    def __init__(self, client: redis.Redis) -> None:
        super().__init__()
        self._client = client

    def get(self, key: str) -> str | None:
        self._count()
        value = self._client.get(key)
        if value is None or isinstance(value, str):
            return value
        return bytes(value).decode()

    def set(self, key: str, value: str) -> None:
        self._count()
        self._client.set(key, value)

    def incr(self, key: str, by: int = 1) -> int:
        self._count()
        return int(self._client.incrby(key, by))

    def forget(self, prefix: str) -> None:
        """Clean up after a run (not counted: not part of the workload)."""
        keys = list(self._client.scan_iter(match=f"{prefix}*"))
        if keys:
            self._client.delete(*keys)


class SQLiteKV(Counted):
    """A key-value table in a SQLite file (WAL), when no Redis runs."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection.execute("PRAGMA journal_mode = WAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT)")
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        self._count()
        with self._lock:
            row = self._connection.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, value: str) -> None:
        self._count()
        with self._lock:
            self._connection.execute(
                "INSERT INTO kv VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def incr(self, key: str, by: int = 1) -> int:
        self._count()
        with self._lock:
            row = self._connection.execute(
                "INSERT INTO kv VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = CAST(value AS INTEGER) + ? RETURNING value", (key, str(by), by),
            ).fetchone()
        return int(row[0])

    def forget(self, prefix: str) -> None:
        with self._lock:
            self._connection.execute("DELETE FROM kv WHERE key >= ? AND key < ?",
                                     (prefix, prefix + "\uffff"))

    def close(self) -> None:
        self._connection.close()


def open_kv(fallback: Path, prefer: str = "auto") -> KV:
    """Redis if ``prefer`` allows and it answers, else the SQLite file ``fallback``."""
    if prefer in ("auto", "redis") and redis is not None:
        client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5)
        try:
            client.ping()
            return RedisKV(client)
        except redis.RedisError:
            if prefer == "redis":
                raise
    return SQLiteKV(fallback)

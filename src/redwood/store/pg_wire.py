"""The statements every execution sends (its start, its checkpoints, a read of it; and a worker's
look at the next due time), sent straight through libpq: one named prepared statement per
connection, parameters written as text here, rows read by psycopg's loaders.

psycopg's cursor path (query conversion, adaptation, its own prepared-statement bookkeeping, the
wait loop around each round trip) cost about 0.1 ms of client CPU per statement here, more than
the rest of a checkpoint's commit; a W1 execution sends a dozen of these statements. Everything
else of the store goes through psycopg as usual, and these statements behave the same way: the
same errors (a lost connection raises ``OperationalError``), the same rows.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

import psycopg
from psycopg import pq
from psycopg.adapt import Transformer

Connection = psycopg.Connection[Any]
Row = tuple[Any, ...]

_OK = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
_NOT_PREPARED = b"26000"  # invalid_sql_statement_name: no prepared statement of that name


class Statement:
    """One statement with ``%s`` placeholders, prepared on each connection the first time it runs
    there (a named statement: the server plans it once, not on every checkpoint)."""

    __slots__ = ("name", "query", "text")

    def __init__(self, name: str, query: str) -> None:
        if "%%" in query:
            raise ValueError(f"statement {name!r}: no literal % signs, please")
        parts = query.split("%s")
        self.query = query  # as psycopg takes it, for use inside a transaction
        self.name = f"redwood_{name}".encode()
        self.text = (parts[0] + "".join(
            f"${number}{part}" for number, part in enumerate(parts[1:], 1))).encode()


class _Session:
    """What a connection has prepared, and how it encodes text."""

    __slots__ = ("encoding", "prepared")

    def __init__(self, connection: Connection) -> None:
        self.encoding = connection.info.encoding
        self.prepared: set[bytes] = set()


_sessions: WeakKeyDictionary[Connection, _Session] = WeakKeyDictionary()
_sessions_lock = threading.Lock()


def execute(connection: Connection, statement: Statement, params: Sequence[Any]) -> list[Row]:
    """Run ``statement`` on ``connection`` (autocommit, no transaction open) in one round trip
    and return its rows. Parameters are ``str``, ``int``, ``float``, ``bool`` or None."""
    session = _sessions.get(connection)
    if session is None:
        with _sessions_lock:
            session = _sessions.setdefault(connection, _Session(connection))
    pgconn = connection.pgconn
    encoding = session.encoding
    values = [_text(value, encoding) for value in params]
    if statement.name not in session.prepared:
        _prepare(pgconn, statement, session)
    # None is SQL NULL, as for send_query_prepared (whose stub says so; this one's forgets).
    result = pgconn.exec_prepared(statement.name, values)  # type: ignore[arg-type]
    if result.error_field(pq.DiagnosticField.SQLSTATE) == _NOT_PREPARED:
        # psycopg deallocates every prepared statement of a connection after a rollback on it
        # (DEALLOCATE ALL, to drop its own): prepare ours again. Refused at bind, before
        # anything ran, so running it now runs it once.
        session.prepared.clear()
        _prepare(pgconn, statement, session)
        result = pgconn.exec_prepared(statement.name, values)  # type: ignore[arg-type]
    _check(pgconn, result, encoding)
    if not result.ntuples:
        return []
    loader = Transformer(connection)
    loader.set_pgresult(result)
    return loader.load_rows(0, result.ntuples, tuple)


def _prepare(pgconn: pq.abc.PGconn, statement: Statement, session: _Session) -> None:
    _check(pgconn, pgconn.prepare(statement.name, statement.text), session.encoding)
    session.prepared.add(statement.name)


def execute_in_transaction(
    connection: Connection, statement: Statement, params: Sequence[Any]
) -> list[Row]:
    """``execute`` through psycopg, for a transaction it holds open (a pipeline, maybe)."""
    return connection.execute(statement.query, params).fetchall()


def _text(value: Any, encoding: str) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        # libpq reads a text parameter up to its first NUL: refuse it as psycopg does, rather
        # than store a shortened value.
        if "\x00" in value:
            raise psycopg.DataError(
                "PostgreSQL text fields cannot contain NUL (0x00) bytes")
        return value.encode(encoding)
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, int | float):
        # repr() of a float reads back to the same double (PostgreSQL accepts inf and nan too).
        return repr(value).encode()
    raise TypeError(f"cannot send a {type(value).__name__} parameter: {value!r}")


def _check(pgconn: pq.abc.PGconn, result: pq.abc.PGresult, encoding: str) -> None:
    if result.status in _OK:
        return
    if result.error_field(pq.DiagnosticField.SQLSTATE) is None \
            and pgconn.status != pq.ConnStatus.OK:
        # The connection broke under the statement: whether a write committed is unknown, as
        # when psycopg's own path loses its connection (a terminated backend says so itself).
        message = pgconn.get_error_message(encoding) or "the connection was lost"
        raise psycopg.OperationalError(f"consuming input failed: {message}")
    raise psycopg.errors.error_from_result(result, encoding=encoding)

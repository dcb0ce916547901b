"""The statements sent straight through libpq (store/pg_wire.py) read and write what psycopg's
own path would: the same values back, the same errors."""

from __future__ import annotations

import math
from collections.abc import Iterator

import psycopg
import pytest

from redwood.store import pg_wire as wire

ECHO = wire.Statement("test_echo", "SELECT %s::text, %s::bigint, %s::double precision, %s::boolean")


@pytest.fixture
def connection(postgres_url: str) -> Iterator[psycopg.Connection[object]]:
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        yield connection


def test_values_come_back_as_sent(connection: psycopg.Connection[object]) -> None:
    for row in [("naïve ☃ \"quoted\" 'x'", 2**62, 1795279522.5401375, True),
                ("", -1, -0.0, False), (None, None, None, None)]:
        assert wire.execute(connection, ECHO, row) == [row]
    [(_, _, infinite, _)] = wire.execute(connection, ECHO, ("x", 0, math.inf, True))
    assert infinite == math.inf


def test_a_statement_is_prepared_once_per_connection(
    connection: psycopg.Connection[object], postgres_url: str
) -> None:
    for _ in range(3):
        wire.execute(connection, ECHO, ("a", 1, 1.0, True))
    prepared = connection.execute(
        "SELECT count(*) FROM pg_prepared_statements WHERE name = 'redwood_test_echo'")
    assert prepared.fetchone() == (1,)
    with psycopg.connect(postgres_url, autocommit=True) as other:
        assert wire.execute(other, ECHO, ("b", 2, 2.0, False)) == [("b", 2, 2.0, False)]


def test_a_statement_psycopg_deallocated_after_a_rollback_is_prepared_again(
    connection: psycopg.Connection[object],
) -> None:
    assert wire.execute(connection, ECHO, ("a", 1, 1.0, True))[0][0] == "a"
    connection.execute("SELECT 1", prepare=True)  # psycopg holds a prepared statement too
    with connection.transaction():
        connection.execute("SELECT 2")
        raise psycopg.Rollback()  # psycopg answers with DEALLOCATE ALL at its next statement
    connection.execute("SELECT 3")
    assert connection.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
    assert wire.execute(connection, ECHO, ("b", 2, 2.0, False)) == [("b", 2, 2.0, False)]


def test_a_nul_character_is_refused_not_cut_short(connection: psycopg.Connection[object]) -> None:
    with pytest.raises(psycopg.DataError, match="NUL"):
        wire.execute(connection, ECHO, ("before\x00after", 1, 1.0, True))


def test_a_server_error_raises_its_psycopg_class(connection: psycopg.Connection[object]) -> None:
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        wire.execute(connection, wire.Statement("test_bad_int", "SELECT %s::int"), ("x",))
    assert wire.execute(connection, ECHO, ("still usable", 1, 1.0, True))[0][0] == "still usable"


def test_a_connection_lost_mid_statement_raises_operational_error(
    connection: psycopg.Connection[object], postgres_url: str
) -> None:
    pid = connection.info.backend_pid
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):
        wire.execute(connection, ECHO, ("gone", 1, 1.0, True))
    assert connection.closed

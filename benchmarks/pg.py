"""PostgreSQL housekeeping for benchmark databases (create if missing, recreate fresh)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

try:  # the "postgres" extra
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]


def _admin(url: str) -> tuple[str, str]:
    if psycopg is None:
        raise RuntimeError("PostgreSQL needs psycopg: pip install -e '.[postgres]'")
    parts = urlsplit(url)
    return parts.path.strip("/"), urlunsplit(parts._replace(path="/postgres"))


def create_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist yet."""
    name, admin = _admin(url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                   (name,)).fetchone()
        if found is None:
            connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    """Drop the database named in ``url`` (if it exists), closing its connections."""
    name, admin = _admin(url)
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sibling(url: str, suffix: str) -> str:
    """The same server and credentials, database name + ``suffix``."""
    parts = urlsplit(url)
    name = (parts.path.strip("/") or "redwood_bench") + suffix
    return urlunsplit(parts._replace(path=f"/{name}"))

"""Choosing a store from a database URL or path."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from redwood.errors import ValidationError
from redwood.store.base import Store
from redwood.store.sqlite import SQLiteStore
from redwood.types import Durability

if TYPE_CHECKING:
    # For the type checker only: psycopg is an optional dependency, imported when a URL asks.
    from redwood.store.postgres import PostgresStore

DEFAULT_DATABASE = "redwood.db"
ENVIRONMENT_VARIABLE = "REDWOOD_DATABASE_URL"


def database_url(database: str | Path | None) -> str:
    """The explicit database, else $REDWOOD_DATABASE_URL, else ./redwood.db."""
    if database is not None:
        return str(database)
    return os.environ.get(ENVIRONMENT_VARIABLE) or DEFAULT_DATABASE


def display_url(url: str) -> str:
    """The URL with any password masked, fit to print."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def open_store(database: str | Path | None, durability: Durability = Durability.OS_CRASH) -> Store:
    """A store for ``database``: a SQLite path or ``sqlite:///path``, or ``postgresql://...``."""
    url = database_url(database)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            # Optional dependency: only PostgreSQL users install the "postgres" extra.
            module = importlib.import_module("redwood.store.postgres")
        except ImportError as error:
            raise ValidationError(
                f"Cannot open {url!r}: PostgreSQL support needs the 'postgres' extra "
                f"({error}). Install it with: pip install 'redwood[postgres]'.",
                database=url,
            ) from None
        # Typed, so that the type checker holds PostgresStore to the Store protocol.
        postgres_store: type[PostgresStore] = module.PostgresStore
        store: Store = postgres_store(url)
        return store
    if "://" in url and not url.startswith("sqlite://"):
        raise ValidationError(
            f"Unsupported database URL {url!r}: use a file path, sqlite:///path/to/file.db, "
            "or postgresql://user@host/dbname.",
            database=url,
        )
    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    return SQLiteStore(path, durability)


def upgrade(database: str | Path | None) -> tuple[int, int]:
    """Bring the database's schema to the newest migration; return the version before and after.

    Stores also migrate when opened (many processes may start at once: the migration runs under
    a lock); this lets an operator do it ahead of a deploy and see what changed.
    """
    store = open_store(database)
    try:
        return store.schema_versions
    finally:
        store.close()

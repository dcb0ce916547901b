"""Numbered SQL migrations, one folder per dialect: ``sql/<dialect>/NNNN_name.sql``."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change."""

    version: int
    name: str
    sql: str


def migrations(dialect: str) -> list[Migration]:
    """Every migration of ``dialect`` in version order."""
    folder = resources.files("redwood.store").joinpath("sql", dialect)
    found = []
    for entry in folder.iterdir():
        stem = entry.name.removesuffix(".sql")
        if entry.name.endswith(".sql") and stem[:4].isdigit():
            found.append(Migration(int(stem[:4]), stem, entry.read_text()))
    return sorted(found, key=lambda m: m.version)


def pending(applied: set[int], target: int | None, dialect: str) -> list[Migration]:
    """The migrations of ``dialect`` not in ``applied``, up to version ``target`` (None: all).

    Versions are tracked one by one, not as a high-water mark, so a migration numbered below
    one already applied (two branches adding migrations at once) is still applied.
    """
    return [m for m in migrations(dialect)
            if m.version not in applied and (target is None or m.version <= target)]


def statements(sql: str) -> list[str]:
    """The statements of a migration file, comments removed (comments may contain ';')."""
    lines = [line.split("--", 1)[0] for line in sql.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def latest_version(dialect: str) -> int:
    """The version the newest migration brings the schema to."""
    return max((m.version for m in migrations(dialect)), default=0)

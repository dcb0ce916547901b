"""Moments on the command line: ISO 8601 (``2026-03-01``, ``2026-03-01T12:00``), a relative age
(``90s``, ``15m``, ``1h30m``, ``2d``, ``1w`` ago), ``now``, or epoch seconds."""

from __future__ import annotations

import re
import time
from datetime import datetime

import click

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RELATIVE = re.compile(r"(?:(\d+(?:\.\d+)?)([smhdw]))+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_moment(text: str, now: float) -> float:
    """Epoch seconds for ``text``; ValueError with the accepted forms when it is none of them."""
    value = text.strip().lower()
    if value == "now":
        return now
    if _RELATIVE.fullmatch(value):
        return now - sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(value))
    if re.fullmatch(r"\d{9,}(\.\d+)?", value):
        return float(value)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a moment: use ISO 8601 (2026-03-01 or 2026-03-01T12:00:00+00:00), "
            "an age such as 30m, 1h30m, 2d or 1w, 'now', or epoch seconds."
        ) from None
    # A time without a zone is local time, as people read it off their clock.
    return moment.astimezone().timestamp() if moment.tzinfo is None else moment.timestamp()


def moment_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> float | None:
    """A click callback turning a ``--since``/``--until`` value into epoch seconds."""
    if value is None:
        return None
    try:
        return parse_moment(value, time.time())
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None

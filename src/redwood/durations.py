"""Durations accepted by the API: seconds as a number, or a timedelta."""

from __future__ import annotations

import math
from datetime import timedelta

from redwood.errors import ValidationError

Duration = float | int | timedelta

ONE_YEAR = 366 * 24 * 3600.0


def seconds(value: Duration, what: str, minimum: float = 1.0, maximum: float = ONE_YEAR) -> float:
    """``value`` in seconds, checked against [minimum, maximum]; ``what`` names it in the error."""
    if isinstance(value, timedelta):
        total = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        total = float(value)
    else:
        raise ValidationError(
            f"{what} must be a number of seconds or a timedelta, got {type(value).__name__} "
            f"{value!r}.", what=what,
        )
    if math.isnan(total) or not minimum <= total <= maximum:
        raise ValidationError(
            f"{what} must be between {_human(minimum)} and {_human(maximum)}, got {value!r}. "
            "Pass a positive duration such as 30 (seconds) or timedelta(days=3).",
            what=what, value=total,
        )
    return total


def _human(value: float) -> str:
    if value >= 86400:
        return f"{value / 86400:g} days"
    return f"{value:g} seconds"

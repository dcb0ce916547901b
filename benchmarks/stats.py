"""Medians and percentiles of timing samples (nearest-rank, no interpolation surprises)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``samples``."""
    if not samples:
        raise ValueError("percentile of no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    """A latency distribution in milliseconds."""

    n: int
    median: float
    p90: float
    p99: float
    mean: float
    minimum: float
    maximum: float

    @classmethod
    def of_seconds(cls, samples: Sequence[float]) -> Summary:
        """Summarise samples given in seconds, reported in milliseconds."""
        ms = [s * 1000.0 for s in samples]
        return cls(n=len(ms), median=statistics.median(ms), p90=percentile(ms, 90),
                   p99=percentile(ms, 99), mean=statistics.fmean(ms), minimum=min(ms),
                   maximum=max(ms))

    def as_dict(self) -> dict[str, Any]:
        """The fields, rounded for reading."""
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}

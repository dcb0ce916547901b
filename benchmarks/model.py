"""What a benchmark produces: figures (one measured number each), with the target it is held to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Target:
    """A goal from the issues: the value must be at most (``<=``) or at least (``>=``) ``limit``."""

    limit: float
    op: Literal["<=", ">="]
    source: str = ""

    def met(self, value: float) -> bool:
        """Whether ``value`` meets the target."""
        return value <= self.limit if self.op == "<=" else value >= self.limit

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g}"


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number: which system, store, workload and metric, with its unit."""

    system: str
    backend: str
    workload: str
    metric: str
    value: float
    unit: str
    target: Target | None = None
    lower_is_better: bool = True
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None when there is no target)."""
        return None if self.target is None else self.target.met(self.value)

    def key(self) -> tuple[str, str]:
        """What identifies the same measurement across systems."""
        return (self.workload, self.metric)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "system": self.system, "backend": self.backend, "workload": self.workload,
            "metric": self.metric, "value": round(self.value, 4), "unit": self.unit,
            "target": None if self.target is None else str(self.target),
            "target_source": None if self.target is None else self.target.source,
            "met": self.met, "lower_is_better": self.lower_is_better, "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        """The inverse of ``as_dict`` (peers report figures as JSON from their own process)."""
        target = None
        if data.get("target"):
            op, limit = data["target"].split()
            target = Target(float(limit), op, data.get("target_source") or "")
        return cls(system=data["system"], backend=data["backend"], workload=data["workload"],
                   metric=data["metric"], value=float(data["value"]), unit=data["unit"],
                   target=target, lower_is_better=bool(data.get("lower_is_better", True)),
                   details=dict(data.get("details") or {}))


# The targets from the issues (issue 2's performance section), printed beside each figure.
W1_MEDIAN = Target(3.0, "<=", "issue 2: W1 median <= 3 ms")
W1_FLOOR_RATIO = Target(2.0, "<=", "issue 2: W1 median <= 2x the commit floor")
W1_BACK_TO_BACK = Target(300.0, ">=", "issue 2: >= 300 executions/s back-to-back")
W1_IN_FLIGHT = Target(1000.0, ">=", "issue 2: >= 1,000 executions/s with 50 in flight")
W3_MEDIAN = Target(1.5, "<=", "issue 2: W3 median <= 1.5 ms")
W4_P99_LATENESS = Target(200.0, "<=", "issue 2: W4 p99 wake-up lateness <= 200 ms")
# Issue 4: PostgreSQL with workers in their own processes.
W1_PG_MEDIAN = Target(5.0, "<=", "issue 4: W1 median on PostgreSQL <= 5 ms with one worker")
W1_PG_IN_FLIGHT = Target(500.0, ">=",
                         "issue 4: >= 500 executions/s with 50 in flight from one worker process")
W4_PG_P99_LATENESS = Target(200.0, "<=",
                            "issue 4: p99 wake-up lateness <= 200 ms for 10,000 sleepers")

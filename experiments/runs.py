"""One row per run of the study, as written to the CSV files."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# The first eight columns are the study's schema; the rest say which cell and how it went.
COLUMNS = ["workload", "variant", "run", "time_ms", "store_ops", "steps", "retries",
           "final_value", "fault_p", "completed", "engine_commits", "store"]


@dataclass(frozen=True, slots=True)
class Run:
    """What one run of one variant measured."""

    workload: str
    variant: str
    run: int
    time_ms: float
    store_ops: int
    steps: int
    retries: int
    final_value: str
    fault_p: float = 0.0
    completed: bool = True
    # Redwood's own commits (durable variant only): the store work the engine does for the user.
    engine_commits: int | None = None
    store: str = ""

    def row(self) -> dict[str, Any]:
        """The CSV row."""
        data = asdict(self)
        data["time_ms"] = round(self.time_ms, 3)
        data["completed"] = int(self.completed)
        data["engine_commits"] = "" if self.engine_commits is None else self.engine_commits
        return data

    @classmethod
    def from_row(cls, row: dict[str, str]) -> Run:
        """Read a CSV row back."""
        return cls(
            workload=row["workload"], variant=row["variant"], run=int(row["run"]),
            time_ms=float(row["time_ms"]), store_ops=int(row["store_ops"]),
            steps=int(row["steps"]), retries=int(row["retries"]),
            final_value=row["final_value"], fault_p=float(row["fault_p"]),
            completed=row["completed"] == "1",
            engine_commits=int(row["engine_commits"]) if row["engine_commits"] else None,
            store=row["store"],
        )


assert [f.name for f in fields(Run)] == COLUMNS

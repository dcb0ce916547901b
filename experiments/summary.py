"""Per-cell aggregates of the runs (a cell: one workload, variant and fault probability)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from experiments.runs import Run

# The paper's table (issue 5), for comparison: runs, median time (ms), store ops, result.
PAPER: dict[tuple[str, str], tuple[int, float | None, float, str | None]] = {
    ("counter", "baseline"): (10, None, 5.0, "2"),
    ("counter", "durable"): (10, None, 0.0, "2"),
    ("pipeline", "baseline"): (20, 197.0, 62.6, None),
    ("pipeline", "durable"): (10, 530.0, 0.0, None),
}


@dataclass(frozen=True, slots=True)
class Cell:
    """Aggregates of one cell's runs."""

    workload: str
    variant: str
    fault_p: float
    runs: int
    completed: float
    time_median: float
    time_mean: float
    store_ops_mean: float
    steps_mean: float
    retries_mean: float
    engine_commits_mean: float | None
    results: str


def cells(runs: Iterable[Run]) -> list[Cell]:
    """One Cell per (workload, variant, fault_p), in the order first seen."""
    groups: dict[tuple[str, str, float], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.workload, run.variant, run.fault_p), []).append(run)
    out = []
    for (workload, variant, fault_p), group in groups.items():
        done = [r for r in group if r.completed] or group
        commits = [r.engine_commits for r in group if r.engine_commits is not None]
        out.append(Cell(
            workload, variant, fault_p, len(group),
            completed=sum(r.completed for r in group) / len(group),
            time_median=statistics.median(r.time_ms for r in done),
            time_mean=statistics.fmean(r.time_ms for r in done),
            store_ops_mean=statistics.fmean(r.store_ops for r in group),
            steps_mean=statistics.fmean(r.steps for r in group),
            retries_mean=statistics.fmean(r.retries for r in group),
            engine_commits_mean=statistics.fmean(commits) if commits else None,
            results=", ".join(sorted({r.final_value for r in group})),
        ))
    return out


def find(all_cells: list[Cell], workload: str, variant: str, fault_p: float = 0.0) -> Cell | None:
    """The cell for these keys, if it ran."""
    return next((c for c in all_cells if (c.workload, c.variant, c.fault_p)
                 == (workload, variant, fault_p)), None)

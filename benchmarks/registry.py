"""The workload registry: each workload is one function from a ``Bench`` to its figures.

Adding a workload is a decorated function in any module that ``benchmarks.run`` imports:

    @workload("W9", "what it measures")
    def w9(bench: Bench) -> list[Figure]: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.model import Figure

# The repository root: child processes run ``python -m benchmarks...`` from here.
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Plan:
    """How much of each workload to run."""

    name: str
    warmup: int
    sequential: int
    clients: int
    per_client: int
    counter: int
    pipeline: int
    floor_commits: int
    sleepers: int
    sleep_seconds: float
    failover_executions: int
    lease_seconds: float
    # Latency and rate loops are split into this many rounds, interleaved across contenders.
    rounds: int


PLANS = {
    "full": Plan("full", warmup=50, sequential=500, clients=50, per_client=40, counter=500,
                 pipeline=100, floor_commits=1000, sleepers=1000, sleep_seconds=2.0,
                 failover_executions=10, lease_seconds=5.0, rounds=5),
    "quick": Plan("quick", warmup=20, sequential=150, clients=50, per_client=8, counter=150,
                  pipeline=30, floor_commits=300, sleepers=200, sleep_seconds=2.0,
                  failover_executions=5, lease_seconds=3.0, rounds=3),
    # A smoke test of the harness itself (the test suite runs it): figures mean nothing.
    "tiny": Plan("tiny", warmup=1, sequential=4, clients=3, per_client=2, counter=4,
                 pipeline=2, floor_commits=10, sleepers=8, sleep_seconds=1.0,
                 failover_executions=2, lease_seconds=1.0, rounds=2),
}


@dataclass
class Bench:
    """What a workload gets: the plan, the store it runs on, a scratch directory, the app
    (None when only peers are measured on this store), and the peers to interleave with."""

    plan: Plan
    backend: str
    database: str
    scratch: Path
    app: Any
    peers: list[Any] = field(default_factory=list)
    # Figures measured earlier in the same run, e.g. the commit floor W1 compares itself to.
    shared: dict[str, Any] = field(default_factory=dict)


Runner = Callable[[Bench], list[Figure]]


@dataclass(frozen=True, slots=True)
class Workload:
    """A registered workload."""

    key: str
    title: str
    run: Runner
    # In-process workloads share the run's app and its embedded worker; the others start their
    # own processes on the same store, and run after the embedded worker has stopped.
    in_process: bool = True


WORKLOADS: dict[str, Workload] = {}


def workload(key: str, title: str, *, in_process: bool = True) -> Callable[[Runner], Runner]:
    """Register ``fn`` as workload ``key``; workloads run in ``ordered()`` order."""

    def register(fn: Runner) -> Runner:
        if key in WORKLOADS:
            raise ValueError(f"workload {key!r} is registered twice")
        WORKLOADS[key] = Workload(key, title, fn, in_process)
        return fn

    return register


def ordered() -> list[Workload]:
    """The commit floor first (W1 compares itself to it), then W1, W2... by number."""
    return sorted(WORKLOADS.values(), key=lambda w: (w.key != "floor", w.key))

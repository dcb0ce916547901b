"""Measurement loops shared by Redwood and its peers: the same loop times every system."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.stats import Summary

# One start-to-result round trip; raises if the result is wrong.
Roundtrip = Callable[[], Any]


@dataclass(frozen=True, slots=True)
class Sequential:
    """Back-to-back round trips: each latency, and the rate they add up to."""

    latency: Summary
    per_second: float


def warm_up(roundtrip: Roundtrip, count: int) -> None:
    """Run ``count`` untimed round trips (imports, caches, connection pools, JIT-free warm-up)."""
    for _ in range(count):
        roundtrip()


def timed(roundtrip: Roundtrip, count: int) -> tuple[list[float], float]:
    """``count`` round trips one after another: each one's seconds, and the total elapsed."""
    samples = []
    began = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        roundtrip()
        samples.append(time.perf_counter() - t0)
    return samples, time.perf_counter() - began


def paired(roundtrip: Roundtrip, companion: Roundtrip,
           count: int) -> tuple[list[float], float, list[float]]:
    """Like ``timed``, with ``companion`` timed on its own after each round trip (the commit
    probe, so that it sees the same moment's load); the elapsed time excludes it."""
    samples, extra = [], []
    began = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        roundtrip()
        t1 = time.perf_counter()
        companion()
        samples.append(t1 - t0)
        extra.append(time.perf_counter() - t1)
    return samples, time.perf_counter() - began - sum(extra), extra


def sequential(roundtrip: Roundtrip, count: int) -> Sequential:
    """Time ``count`` round trips one after another."""
    samples, elapsed = timed(roundtrip, count)
    return Sequential(Summary.of_seconds(samples), count / elapsed)


def in_flight(roundtrip: Roundtrip, clients: int, per_client: int) -> float:
    """Round trips per second with ``clients`` threads each running ``per_client`` in a loop."""
    errors: list[BaseException] = []
    gate = threading.Barrier(clients + 1)

    def client() -> None:
        gate.wait()
        try:
            for _ in range(per_client):
                roundtrip()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=client, name=f"bench-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} of {clients} clients failed") from errors[0]
    return clients * per_client / elapsed

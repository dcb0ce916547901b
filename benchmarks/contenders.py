"""Contenders: systems measured side by side. Their rounds are interleaved (A, B, A, B...) so
that noise on a shared machine falls on every system alike, and ratios stay fair.

A ``Local`` contender runs round trips in this process; a ``Remote`` one asks a child process
(``python -m benchmarks.peers.dbos_workloads --serve``) over JSON lines on its stdin/stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any, Protocol

from benchmarks import drive
from benchmarks.stats import Summary


class Contender(Protocol):
    """A system that can run named workloads' round trips."""

    system: str

    def warm_up(self, workload: str, count: int) -> None: ...

    def sequential(self, workload: str, count: int) -> tuple[list[float], float]:
        """``count`` round trips back to back: each latency (s), and the elapsed time (s)."""
        ...

    def in_flight(self, workload: str, clients: int, per_client: int) -> tuple[int, float]:
        """Round trips from ``clients`` threads: how many, and the elapsed time (s)."""
        ...


class Local:
    """Round trips in this process; a ``companion`` (the commit probe) is timed after each
    sequential round trip, its samples kept in ``companion_samples``."""

    def __init__(self, system: str, roundtrips: Mapping[str, drive.Roundtrip],
                 companion: drive.Roundtrip | None = None) -> None:
        self.system = system
        self.roundtrips = roundtrips
        self.companion = companion
        self.companion_samples: list[float] = []

    def warm_up(self, workload: str, count: int) -> None:
        drive.warm_up(self.roundtrips[workload], count)

    def sequential(self, workload: str, count: int) -> tuple[list[float], float]:
        if self.companion is None:
            return drive.timed(self.roundtrips[workload], count)
        samples, elapsed, extra = drive.paired(self.roundtrips[workload], self.companion, count)
        self.companion_samples += extra
        return samples, elapsed

    def in_flight(self, workload: str, clients: int, per_client: int) -> tuple[int, float]:
        rate = drive.in_flight(self.roundtrips[workload], clients, per_client)
        return clients * per_client, clients * per_client / rate


class Remote:
    """Round trips in a child process that serves JSON-line requests."""

    def __init__(self, system: str, command: list[str], cwd: str | None = None) -> None:
        self.system = system
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, cwd=cwd)
        self.info: dict[str, Any] = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.system}: the child process exited "
                               f"(code {self.process.wait()})")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"{self.system}: {reply['error']}")
        return reply

    def ask(self, **request: Any) -> dict[str, Any]:
        """Send one request, return its reply."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def warm_up(self, workload: str, count: int) -> None:
        self.ask(op="warm_up", workload=workload, count=count)

    def sequential(self, workload: str, count: int) -> tuple[list[float], float]:
        reply = self.ask(op="sequential", workload=workload, count=count)
        return list(reply["samples"]), float(reply["elapsed"])

    def in_flight(self, workload: str, clients: int, per_client: int) -> tuple[int, float]:
        reply = self.ask(op="in_flight", workload=workload, clients=clients,
                         per_client=per_client)
        return int(reply["count"]), float(reply["elapsed"])

    def close(self) -> None:
        """Ask the child to stop; kill it if it does not."""
        if self.process.poll() is None:
            try:
                self.ask(op="quit")
                self.process.wait(timeout=30)
            except Exception:
                self.process.kill()
                self.process.wait()


def sequential(contenders: list[Contender], workload: str, count: int, warmup: int,
               rounds: int) -> dict[str, drive.Sequential]:
    """Back-to-back round trips, ``rounds`` interleaved rounds per contender."""
    for contender in contenders:
        contender.warm_up(workload, warmup)
    samples: dict[str, list[float]] = {c.system: [] for c in contenders}
    elapsed = dict.fromkeys(samples, 0.0)
    for share in _shares(count, rounds):
        for contender in contenders:
            got, took = contender.sequential(workload, share)
            samples[contender.system] += got
            elapsed[contender.system] += took
    return {system: drive.Sequential(Summary.of_seconds(s), len(s) / elapsed[system])
            for system, s in samples.items()}


def in_flight(contenders: list[Contender], workload: str, clients: int, per_client: int,
              rounds: int) -> dict[str, float]:
    """Round trips per second with ``clients`` threads, ``rounds`` interleaved rounds each."""
    for contender in contenders:
        contender.in_flight(workload, clients, 1)  # warm the thread pools
    done = {c.system: 0 for c in contenders}
    elapsed = dict.fromkeys(done, 0.0)
    for share in _shares(per_client, rounds):
        for contender in contenders:
            count, took = contender.in_flight(workload, clients, share)
            done[contender.system] += count
            elapsed[contender.system] += took
    return {system: done[system] / elapsed[system] for system in done}


def _shares(count: int, rounds: int) -> list[int]:
    rounds = max(1, min(rounds, count))
    base, extra = divmod(count, rounds)
    return [base + (1 if i < extra else 0) for i in range(rounds)]


def serve(roundtrips: Mapping[str, drive.Roundtrip], info: dict[str, Any]) -> None:
    """The child side of ``Remote``: answer requests on stdin until told to quit."""
    local = Local("child", roundtrips)
    # The protocol owns stdout; anything else the child prints goes to stderr.
    out, sys.stdout = sys.stdout, sys.stderr
    out.write(json.dumps(info) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        try:
            if op == "quit":
                out.write("{}\n")
                out.flush()
                return
            if op == "warm_up":
                local.warm_up(request["workload"], request["count"])
                reply: dict[str, Any] = {}
            elif op == "sequential":
                samples, elapsed = local.sequential(request["workload"], request["count"])
                reply = {"samples": samples, "elapsed": elapsed}
            elif op == "in_flight":
                count, elapsed = local.in_flight(request["workload"], request["clients"],
                                                 request["per_client"])
                reply = {"count": count, "elapsed": elapsed}
            else:
                reply = {"error": f"unknown request {op!r}"}
        except Exception as error:
            reply = {"error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()

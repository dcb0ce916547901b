"""The durable variant: the same workloads as Redwood durable functions. No store code: the
steps' results are the state, and retries are a policy.

The lines between ``# coordination: begin <workload>`` and ``# coordination: end`` are counted
as coordination code, as in baseline.py.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks import fanout

from experiments import encode
from experiments.runs import Run
from redwood import (
    App,
    DurableContext,
    DurableFunction,
    ExecutionFailed,
    OperationType,
    RetryPolicy,
    StepContext,
)


def add(value: int, delta: int) -> int:
    """Counter update."""
    return value + delta


def read(value: int) -> int:
    """Counter read."""
    return value


def encode_chunk(step: StepContext, item: dict[str, Any]) -> dict[str, Any]:
    """Encode one chunk; the injected fault strikes on the same attempts as in the baseline."""
    chunk, fault_p, seed = item["chunk"], item["fault_p"], item["seed"]
    if encode.fails(fault_p, seed, chunk, step.attempt):
        raise encode.EncodeFault(f"chunk {chunk['index']}, attempt {step.attempt}")
    return encode.encode(chunk)


# coordination: begin counter
def counter(ctx: DurableContext) -> int:
    """+1, +2, read, -1."""
    value = ctx.step(add, 0, 1, name="increment")
    value = ctx.step(add, value, 2, name="increment")
    seen = ctx.step(read, value, name="read")
    return ctx.step(add, seen, -1, name="decrement")
# coordination: end


# coordination: begin pipeline
# The baseline's hand-written loop, as a policy: 5 attempts, 10 ms apart.
ENCODE_RETRY = RetryPolicy(max_attempts=5, initial_delay=0.01, backoff_rate=1.0,
                           max_delay=0.01, jitter=0.0, retryable=(encode.EncodeFault,))


def pipeline(ctx: DurableContext, job: dict[str, Any]) -> str:
    """Validate, split, encode each chunk, assemble."""
    meta = ctx.step(encode.validate, job["video"])
    chunks = ctx.step(encode.split, meta)
    items = [{"chunk": c, "fault_p": job["fault_p"], "seed": job["seed"]} for c in chunks]
    parts = fanout.each(ctx, encode_chunk, items, name="encode")
    return ctx.step(encode.assemble, parts)
# coordination: end


class Durable:
    """The durable functions on one app (embedded worker started by the caller)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.counter: DurableFunction[None, int] = app.function(counter)
        self.pipeline: DurableFunction[dict[str, Any], str] = app.function(
            retry=ENCODE_RETRY)(pipeline)

    def _commits(self) -> int | None:
        value = getattr(self.app.store, "commits", None)
        return value if isinstance(value, int) else None

    def _steps(self, execution_id: str) -> tuple[int, int]:
        steps = [op for op in self.app.store.operations(execution_id)
                 if op.type is OperationType.STEP and op.subtype is None]
        return len(steps), sum(max(op.attempt, 1) - 1 for op in steps)

    def run_counter(self, run: int) -> Run:
        """One timed run of the durable counter."""
        commits = self._commits()
        began = time.perf_counter()
        handle = self.app.start(self.counter)
        value = handle.result(timeout=60)
        elapsed = (time.perf_counter() - began) * 1000
        after = self._commits()
        steps, retries = self._steps(handle.id)
        return Run("counter", "durable", run, elapsed, 0, steps, retries, str(value),
                   engine_commits=None if commits is None or after is None else after - commits,
                   store="redwood")

    def run_pipeline(self, run: int, video: dict[str, Any], fault_p: float, seed: str) -> Run:
        """One timed run of the durable pipeline (``seed`` fixes which attempts fault)."""
        commits = self._commits()
        began = time.perf_counter()
        handle = self.app.start(self.pipeline, {"video": video, "fault_p": fault_p,
                                                "seed": seed})
        try:
            output: str | None = handle.result(timeout=300)
        except ExecutionFailed:
            output = None
        elapsed = (time.perf_counter() - began) * 1000
        after = self._commits()
        steps, retries = self._steps(handle.id)
        return Run("pipeline", "durable", run, elapsed, 0, steps, retries, output or "failed",
                   fault_p=fault_p, completed=output is not None,
                   engine_commits=None if commits is None or after is None else after - commits,
                   store="redwood")

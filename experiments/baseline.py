"""The baseline: each workload as stateless functions would run it. Every handler keeps no
state of its own; job and chunk state live in the external store (read-modify-write), the
client polls the store for completion, and retries are written by hand.

The lines between ``# coordination: begin <workload>`` and ``# coordination: end`` are the
coordination code the study counts (sequencing, persisting state, polling, retrying), not the
work itself.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Executor
from typing import Any

from experiments import encode
from experiments.kv import KV
from experiments.runs import Run

MAX_ATTEMPTS = 5
RETRY_DELAY = 0.01
POLL_INTERVAL = 0.01


# --- the counter -----------------------------------------------------------------------------

# coordination: begin counter
def increment(store: KV, key: str, by: int) -> int:
    """A stateless handler: add ``by`` to the stored counter (atomically, in the store)."""
    return store.incr(key, by)


def read(store: KV, key: str) -> int:
    """A stateless handler: the stored counter."""
    return int(store.get(key) or 0)


def counter(store: KV, key: str) -> int:
    """Client: +1, +2, read, -1, each a separate invocation of a stateless handler."""
    store.set(key, "0")
    increment(store, key, 1)
    increment(store, key, 2)
    read(store, key)
    return increment(store, key, -1)
# coordination: end


def run_counter(store: KV, prefix: str, run: int) -> Run:
    """One timed run of the baseline counter."""
    ops = store.ops
    began = time.perf_counter()
    value = counter(store, f"{prefix}counter")
    elapsed = (time.perf_counter() - began) * 1000
    return Run("counter", "baseline", run, elapsed, store.ops - ops, steps=4, retries=0,
               final_value=str(value), store=store.name)


# --- the pipeline ----------------------------------------------------------------------------

# coordination: begin pipeline
def _load(store: KV, key: str) -> dict[str, Any]:
    text = store.get(key)
    if text is None:
        raise KeyError(f"no state at {key!r}")
    state: dict[str, Any] = json.loads(text)
    return state


def handle_validate(store: KV, job: str) -> None:
    """Validate the job's metadata; record the outcome in the job state."""
    state = _load(store, f"{job}:job")
    meta = encode.validate(state["video"])
    store.set(f"{job}:job", json.dumps({**state, "status": "validated", "meta": meta}))


def handle_split(store: KV, job: str) -> int:
    """Split into chunks; one state record per chunk, and the count in the job state."""
    state = _load(store, f"{job}:job")
    chunks = encode.split(state["meta"])
    for chunk in chunks:
        store.set(f"{job}:chunk:{chunk['index']}", json.dumps({"status": "pending",
                                                                "chunk": chunk}))
    store.set(f"{job}:job", json.dumps({**state, "status": "encoding", "chunks": len(chunks)}))
    return len(chunks)


def handle_encode(store: KV, job: str, index: int, fault_p: float, seed: str) -> None:
    """Encode one chunk with hand-written retries; record it and count it as finished."""
    key = f"{job}:chunk:{index}"
    record = _load(store, key)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            if encode.fails(fault_p, seed, record["chunk"], attempt):
                raise encode.EncodeFault(f"chunk {index}, attempt {attempt}")
            part = encode.encode(record["chunk"])
            store.set(key, json.dumps({"status": "done", "part": part, "attempts": attempt}))
            break
        except encode.EncodeFault:
            if attempt == MAX_ATTEMPTS:
                store.set(key, json.dumps({"status": "failed", "attempts": attempt}))
                break
            time.sleep(RETRY_DELAY)
    store.incr(f"{job}:finished")


def wait_for_chunks(store: KV, job: str, chunks: int, timeout: float = 60.0) -> None:
    """Poll the store until every chunk handler has finished."""
    deadline = time.monotonic() + timeout
    while int(store.get(f"{job}:finished") or 0) < chunks:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job!r}: chunks unfinished after {timeout}s")
        time.sleep(POLL_INTERVAL)


def handle_assemble(store: KV, job: str) -> tuple[str | None, int]:
    """Assemble the finished chunks (None if one failed); the output and the retries seen."""
    state = _load(store, f"{job}:job")
    records = [_load(store, f"{job}:chunk:{i}") for i in range(state["chunks"])]
    retries = sum(r["attempts"] - 1 for r in records)
    if any(r["status"] != "done" for r in records):
        store.set(f"{job}:job", json.dumps({**state, "status": "failed"}))
        return None, retries
    output = encode.assemble([r["part"] for r in records])
    store.set(f"{job}:job", json.dumps({**state, "status": "done", "output": output}))
    return output, retries


def pipeline(store: KV, job: str, video: dict[str, Any], fault_p: float, seed: str,
             invoke: Executor) -> tuple[str | None, int]:
    """Client: submit, then invoke each handler; chunk handlers run concurrently."""
    store.set(f"{job}:job", json.dumps({"status": "submitted", "video": video}))
    handle_validate(store, job)
    chunks = handle_split(store, job)
    for index in range(chunks):
        invoke.submit(handle_encode, store, job, index, fault_p, seed)
    wait_for_chunks(store, job, chunks)
    return handle_assemble(store, job)
# coordination: end


def run_pipeline(store: KV, prefix: str, run: int, video: dict[str, Any], fault_p: float,
                 seed: str, invoke: Executor) -> Run:
    """One timed run of the baseline pipeline (``seed`` fixes which attempts fault)."""
    ops = store.ops
    began = time.perf_counter()
    output, retries = pipeline(store, f"{prefix}job", video, fault_p, seed, invoke)
    elapsed = (time.perf_counter() - began) * 1000
    return Run("pipeline", "baseline", run, elapsed, store.ops - ops,
               steps=3 + encode.CHUNKS, retries=retries, final_value=output or "failed",
               fault_p=fault_p, completed=output is not None, store=store.name)

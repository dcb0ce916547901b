"""W1, W2 and W3 written for DBOS Transact, idiomatically (workflows and steps, DBOS's own
config and launch). Runs in its own process, since DBOS is a process-wide singleton, and serves
round trips to the harness, which interleaves them with Redwood's (benchmarks/contenders.py):

    python -m benchmarks.peers.dbos_workloads --system-database-url URL [--fan-out]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sqlite3
from importlib.metadata import version
from typing import Any

from dbos import DBOS, DBOSConfig

from benchmarks import contenders, drive

STEPS = 10
CHUNKS = 10
VIDEO = {"name": "bench.mp4", "frames": 3000}


@DBOS.step()
def bump(x: int) -> int:
    return x + 1


@DBOS.workflow()
def ten_steps(x: int) -> int:
    for _ in range(STEPS):
        x = bump(x)
    return x


@DBOS.step()
async def bump_async(x: int) -> int:
    return x + 1


@DBOS.workflow()
async def ten_steps_async(x: int) -> int:
    for _ in range(STEPS):
        x = await bump_async(x)
    return x


@DBOS.step()
def add(value: int, delta: int) -> int:
    return value + delta


@DBOS.step()
def read(value: int) -> int:
    return value


@DBOS.workflow()
def counter() -> int:
    value = add(0, 1)
    value = add(value, 2)
    seen = read(value)
    return add(seen, -1)


@DBOS.step()
def validate(video: dict[str, Any]) -> dict[str, Any]:
    if video["frames"] <= 0:
        raise ValueError(f"video {video['name']!r} has no frames")
    return video


@DBOS.step()
def split(video: dict[str, Any]) -> list[dict[str, int]]:
    size = video["frames"] // CHUNKS
    return [{"index": i, "first": i * size, "frames": size} for i in range(CHUNKS)]


def _encode(chunk: dict[str, int]) -> str:
    return hashlib.sha256(repr(sorted(chunk.items())).encode()).hexdigest()[:16]


@DBOS.step()
def encode(chunk: dict[str, int]) -> str:
    return _encode(chunk)


@DBOS.workflow()
def encode_chunk(chunk: dict[str, int]) -> str:
    return encode(chunk)


@DBOS.step()
def assemble(parts: list[str]) -> str:
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]


@DBOS.workflow()
def pipeline(video: dict[str, Any], fan_out: bool) -> str:
    meta = validate(video)
    chunks = split(meta)
    if fan_out:
        # DBOS's fan-out: a child workflow per chunk, started durably, then joined.
        handles = [DBOS.start_workflow(encode_chunk, chunk) for chunk in chunks]
        parts = [handle.get_result() for handle in handles]
    else:
        parts = [encode(chunk) for chunk in chunks]
    return assemble(parts)


def _expected_pipeline() -> str:
    size = 3000 // CHUNKS
    parts = [_encode({"index": i, "first": i * size, "frames": size}) for i in range(CHUNKS)]
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:16]


def _roundtrip(workflow: Any, args: tuple[Any, ...], expected: Any) -> drive.Roundtrip:
    def run() -> None:
        result = DBOS.start_workflow(workflow, *args).get_result()
        if result != expected:
            raise AssertionError(f"{workflow.__name__} returned {result!r}, not {expected!r}")

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--system-database-url", required=True)
    parser.add_argument("--fan-out", action="store_true",
                        help="W2 encodes chunks in child workflows (when Redwood's W2 uses map)")
    args = parser.parse_args()
    url: str = args.system_database_url
    info: dict[str, Any] = {"dbos": version("dbos"),
                            "w2_fanout": "child workflows" if args.fan_out
                            else "sequential (map pending)"}
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            info["journal_mode"] = connection.execute("PRAGMA journal_mode").fetchone()[0]
    config: DBOSConfig = {"name": "redwood-bench", "system_database_url": url,
                          "log_level": "WARNING"}
    logging.getLogger("dbos").setLevel(logging.WARNING)
    DBOS(config=config)
    DBOS.launch()
    try:
        contenders.serve({
            "W1-sync": _roundtrip(ten_steps, (0,), STEPS),
            "W1-async": _roundtrip(ten_steps_async, (0,), STEPS),
            "W2": _roundtrip(pipeline, (VIDEO, args.fan_out), _expected_pipeline()),
            "W3": _roundtrip(counter, (), 2),
        }, info)
    finally:
        DBOS.destroy()


if __name__ == "__main__":
    main()

"""The work itself, identical in both variants: validate, split, encode (real CPU), assemble."""

from __future__ import annotations

import hashlib
import random
import zlib
from typing import Any

CHUNKS = 10
CHUNK_BYTES = 256 * 1024


class EncodeFault(Exception):
    """An injected, transient encoder failure (the fault study)."""


def validate(video: dict[str, Any]) -> dict[str, Any]:
    """Check the metadata a client sent."""
    if not video.get("name") or int(video.get("frames", 0)) <= 0:
        raise ValueError(f"invalid video metadata {video!r}: it needs a name and frames > 0")
    return {"name": str(video["name"]), "frames": int(video["frames"]),
            "chunk_bytes": int(video.get("chunk_bytes", CHUNK_BYTES))}


def split(meta: dict[str, Any], chunks: int = CHUNKS) -> list[dict[str, Any]]:
    """Cut the video into ``chunks`` frame ranges."""
    size = meta["frames"] // chunks
    return [{"video": meta["name"], "index": i, "first": i * size, "frames": size,
             "bytes": meta["chunk_bytes"]} for i in range(chunks)]


def _source(chunk: dict[str, Any]) -> bytes:
    # Deterministic, partly compressible "frames": what reading the source range would give.
    rng = random.Random(f"{chunk['video']}:{chunk['index']}")
    words = [rng.randbytes(rng.randint(3, 9)) for _ in range(512)]
    out = bytearray()
    while len(out) < chunk["bytes"]:
        out += b" ".join(rng.choices(words, k=256))
    return bytes(out[: chunk["bytes"]])


def fails(fault_p: float, seed: str, chunk: dict[str, Any], attempt: int) -> bool:
    """Whether the injected fault strikes this attempt (the same draw in both variants)."""
    if fault_p <= 0:
        return False
    draw = hashlib.sha256(f"{seed}:{chunk['index']}:{attempt}".encode()).digest()
    return int.from_bytes(draw[:8], "big") / 2**64 < fault_p


def encode(chunk: dict[str, Any]) -> dict[str, Any]:
    """Compress the chunk's frames and hash the result."""
    packed = zlib.compress(_source(chunk), 6)
    return {"index": chunk["index"], "size": len(packed),
            "sha256": hashlib.sha256(packed).hexdigest()}


def assemble(parts: list[dict[str, Any]]) -> str:
    """The output's identity: a hash over the encoded chunks in order."""
    ordered = sorted(parts, key=lambda p: p["index"])
    total = sum(p["size"] for p in ordered)
    digest = hashlib.sha256("".join(p["sha256"] for p in ordered).encode()).hexdigest()[:16]
    return f"{digest}:{total}"

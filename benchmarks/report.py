"""Results: a JSON file for machines, a Markdown table for people, and the same on the console."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.model import Figure


def load() -> str:
    """The load averages (1, 5, 15 minutes)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def commit() -> str:
    """The checked-out commit the run measures (short hash)."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=Path(__file__).parent).stdout.strip() or "unknown"


def append_line(out: Path, name: str, record: dict[str, Any]) -> None:
    """Print ``record`` and append it as one JSON line to ``out/name`` (kept across runs)."""
    print(json.dumps(record))
    out.mkdir(parents=True, exist_ok=True)
    with (out / name).open("a") as results:
        results.write(json.dumps(record) + "\n")


def meta(plan: str, command: str, **machine: Any) -> dict[str, Any]:
    """Where and how a run happened, for ``write`` (``finish`` fills in the end); ``machine``
    adds what the run measured on (CPUs, versions)."""
    return {"plan": plan, "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "commit": commit(), **machine, "machine": platform.machine(),
            "load_before": load(), "load_after": None, "command": command}


def finish(info: dict[str, Any]) -> None:
    """Fill in the end of a run: the load after it."""
    info["load_after"] = load()


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def _met(figure: Figure) -> str:
    return {None: "", True: "yes", False: "**MISSED**"}[figure.met]


def _notes(figure: Figure) -> str:
    d = figure.details
    keys = ("p90", "p99", "commits_per_execution", "floor_ms", "fanout",
            "python_objects_per_execution", "lease_seconds", "invocations_max",
            "doomed_invocations_max", "resumed_before_kill", "journal_mode", "how",
            # The PostgreSQL worker-process benchmarks (pg_scale, pg_sleepers).
            "transactions_per_execution", "client_transactions_per_execution", "rounds",
            "steady_per_second", "system_ms", "cores_busy", "ideal",
            "starts_per_second", "asleep_seconds", "asleep_before_deadline",
            "recorded_after_deadline", "objects_delta", "client_cpu_ms", "worker_cpu_ms")
    parts = [f"{k}={_number(d[k]) if isinstance(d[k], float) else d[k]}" for k in keys if k in d]
    return ", ".join(parts)


def ratios(figures: Iterable[Figure], system: str, peer: str) -> list[dict[str, Any]]:
    """``system``/``peer`` for every (backend, workload, metric) both measured."""
    figures = list(figures)
    theirs = {(f.backend, *f.key()): f for f in figures if f.system == peer}
    rows = []
    for ours in figures:
        if ours.system != system:
            continue
        other = theirs.get((ours.backend, *ours.key()))
        if other is None or other.value == 0:
            continue
        rows.append({"backend": ours.backend, "workload": ours.workload, "metric": ours.metric,
                     "ours": ours.value, "theirs": other.value, "unit": ours.unit,
                     "ratio": ours.value / other.value,
                     "better": "lower" if ours.lower_is_better else "higher"})
    return rows


def markdown(meta: dict[str, Any], figures: list[Figure], peer_rows: list[dict[str, Any]],
             notes: list[str], title: str = "Redwood benchmarks") -> str:
    """The Markdown report."""
    versions = ", ".join(f"{label} {meta[key]}" for key, label in
                         (("python", "Python"), ("sqlite", "SQLite"), ("postgres", "PostgreSQL"))
                         if key in meta)
    lines = [
        f"# {title}",
        "",
        f"Plan `{meta['plan']}`, {meta['started']}, commit `{meta['commit']}`, "
        f"{meta['cpus']} CPUs, load average {meta['load_before']} before / "
        f"{meta['load_after']} after, {versions}.",
        f"Command: `{meta['command']}`",
        "",
        "Every ratio compares figures measured in this same run (the machine is shared and noisy).",
        "",
        "| System | Store | Workload | Metric | Value | Unit | Target | Met | Notes |",
        "| --- | --- | --- | --- | ---: | --- | --- | --- | --- |",
    ]
    for f in figures:
        target = "" if f.target is None else str(f.target)
        lines.append(f"| {f.system} | {f.backend} | {f.workload} | {f.metric} | "
                     f"{_number(f.value)} | {f.unit} | {target} | {_met(f)} | {_notes(f)} |")
    if peer_rows:
        lines += ["", "## Redwood / DBOS (same run, same machine, same loop)", "",
                  "| Store | Workload | Metric | Redwood | DBOS | Unit | Redwood/DBOS | Better |",
                  "| --- | --- | --- | ---: | ---: | --- | ---: | --- |"]
        for r in peer_rows:
            lines.append(f"| {r['backend']} | {r['workload']} | {r['metric']} | "
                         f"{_number(r['ours'])} | {_number(r['theirs'])} | {r['unit']} | "
                         f"{r['ratio']:.2f} | {r['better']} |")
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write(out: Path, meta: dict[str, Any], figures: list[Figure],
          peer_rows: list[dict[str, Any]], notes: list[str], name: str = "latest",
          title: str = "Redwood benchmarks") -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.md`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "figures": [f.as_dict() for f in figures],
                "ratios": {"redwood/dbos": peer_rows}, "notes": notes}
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    json_path.write_text(json.dumps(document, indent=2) + "\n")
    md_path.write_text(markdown(meta, figures, peer_rows, notes, title))
    return json_path, md_path


def console_line(figure: Figure) -> str:
    """One figure as a console line."""
    target = "" if figure.target is None else f"  target {figure.target}: {_met(figure) or '-'}"
    return (f"{figure.system:8} {figure.backend:10} {figure.workload:5} {figure.metric:38} "
            f"{_number(figure.value):>9} {figure.unit:7}{target}")

"""Run the whole study and write its CSV files, figures and README.

    python -m experiments.study [--runs-multiplier K] [--tiny] [--out DIR] [--readme PATH]

By default the paper's run counts: counter 10 + 10, pipeline baseline 20 and durable 10, and the
pipeline again under encode faults (p = 0.1, 0.3).
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import fanout

from experiments import baseline, durable, encode, figures, loc, readme
from experiments.kv import KV, open_kv
from experiments.runs import COLUMNS, Run
from experiments.summary import cells
from redwood import App

HERE = Path(__file__).resolve().parent
FAULT_PS = (0.0, 0.1, 0.3)
COUNTS = {("counter", "baseline"): 10, ("counter", "durable"): 10,
          ("pipeline", "baseline"): 20, ("pipeline", "durable"): 10}


@dataclass(frozen=True, slots=True)
class Cell:
    """One workload, variant and fault probability, run ``runs`` times."""

    workload: str
    variant: str
    fault_p: float
    runs: int


def plan(multiplier: float, tiny: bool) -> list[Cell]:
    """Every cell of the study with its run count."""
    out = []
    for (workload, variant), count in COUNTS.items():
        runs = 1 if tiny else max(1, round(count * multiplier))
        ps = FAULT_PS if workload == "pipeline" else (0.0,)
        out += [Cell(workload, variant, p, runs) for p in ps]
    return out


class Study:
    """Both variants, ready to run: the store for the baseline, an app for the durable one."""

    def __init__(self, store: KV, app: App, video: dict[str, Any]) -> None:
        self.store = store
        self.durable = durable.Durable(app)
        self.video = video
        self.invoke = ThreadPoolExecutor(encode.CHUNKS, thread_name_prefix="stateless")

    def run(self, cell: Cell, index: int) -> Run:
        """One run of ``cell``; the baseline's keys are removed afterwards (not counted)."""
        seed = f"run-{index}-p{cell.fault_p}"
        if cell.variant == "durable":
            if cell.workload == "counter":
                return self.durable.run_counter(index)
            return self.durable.run_pipeline(index, self.video, cell.fault_p, seed)
        prefix = f"redwood-study:{uuid.uuid4().hex}:"
        try:
            if cell.workload == "counter":
                return baseline.run_counter(self.store, prefix, index)
            return baseline.run_pipeline(self.store, prefix, index, self.video, cell.fault_p,
                                         seed, self.invoke)
        finally:
            self.store.forget(prefix)

    def close(self) -> None:
        self.invoke.shutdown()


def execute(study: Study, cells_: list[Cell], progress: Callable[[Run], None]) -> list[Run]:
    """Warm up each variant once (untimed), then interleave the runs of every cell."""
    for cell in cells_:
        if cell.fault_p == 0:
            study.run(cell, -1)
    runs = []
    for index in range(max(c.runs for c in cells_)):
        for cell in cells_:
            if index < cell.runs:
                run = study.run(cell, index)
                runs.append(run)
                progress(run)
    return runs


def write_csv(runs: list[Run], path: Path) -> Path:
    """One row per run."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for run in runs:
            writer.writerow(run.row())
    return path


def read_csv(path: Path) -> list[Run]:
    """The runs back from ``write_csv``'s file."""
    with path.open(newline="") as f:
        return [Run.from_row(row) for row in csv.DictReader(f)]


def write_summary(runs: list[Run], path: Path, lines: dict[tuple[str, str], int]) -> Path:
    """One row per cell, with the coordination lines of its workload and variant."""
    rows = []
    for c in cells(runs):
        row = {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(c).items()}
        rows.append({**row, "coordination_lines": lines[(c.workload, c.variant)]})
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _meta(store: str, multiplier: float, video: dict[str, Any]) -> dict[str, str]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip() or "unknown"
    return {"started": datetime.datetime.now().isoformat(timespec="seconds"),
            "cpus": str(os.cpu_count()), "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "commit": commit, "store": store, "fanout": fanout.MODE,
            "chunk_bytes": str(video["chunk_bytes"]), "chunks": str(encode.CHUNKS),
            "multiplier": f"{multiplier:g}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs-multiplier", type=float, default=1.0, metavar="K",
                        help="multiply every run count by K (default 1: the paper's counts)")
    parser.add_argument("--tiny", action="store_true",
                        help="one run per cell on small chunks: a smoke test of the study")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="where the CSV files and figures go")
    parser.add_argument("--readme", type=Path, default=HERE / "README.md")
    parser.add_argument("--store", choices=("auto", "redis", "sqlite"), default="auto",
                        help="the baseline's store (auto: Redis if it answers, else SQLite)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    video = {"name": "study.mp4", "frames": 3000,
             "chunk_bytes": 16 * 1024 if args.tiny else encode.CHUNK_BYTES}
    scratch = Path(tempfile.mkdtemp(prefix="study-", suffix=".tmp", dir=out))
    try:
        store = open_kv(scratch / "baseline-store.db", args.store)
        app = App(scratch / "redwood.db")
        print(f"baseline store: {store.name}; durable fan-out: {fanout.MODE}", flush=True)
        study = Study(store, app, video)
        try:
            with app.run_worker():
                runs = execute(study, plan(args.runs_multiplier, args.tiny), _print)
        finally:
            study.close()
            app.close()
            close = getattr(store, "close", None)
            if close is not None:
                close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    lines = {(workload, variant): loc.of_module(module, workload)
             for workload in ("counter", "pipeline")
             for variant, module in (("baseline", baseline), ("durable", durable))}
    csv_path = write_csv(runs, out / "runs.csv")
    write_summary(runs, out / "summary.csv", lines)
    written = read_csv(csv_path)  # the README and figures come from the CSV, as published
    figures.all_figures(written, out)
    meta = _meta(store.name, args.runs_multiplier, video)
    args.readme.write_text(readme.render(written, meta, lines, out, args.readme))
    print(f"wrote {csv_path}, {out / 'summary.csv'}, figures in {out}, and {args.readme}")
    return 0


def _print(run: Run) -> None:
    print(f"{run.workload:8} {run.variant:8} p={run.fault_p:<4g} #{run.run:<3} "
          f"{run.time_ms:9.1f} ms  ops={run.store_ops:<3} steps={run.steps:<3} "
          f"retries={run.retries:<2} -> {run.final_value}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

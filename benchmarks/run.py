"""Run the standard workloads and print medians, targets and ratios measured in the same run.

    python -m benchmarks.run [--quick] [--database URL ...] [--peers] [--only W1,W3]

Writes benchmarks/results/latest.json and latest.md (or into --out).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shlex
import shutil
import sqlite3
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from benchmarks import failover, pg, report, sleepers, standard  # noqa: F401 (they register workloads)
from benchmarks.functions import Functions
from benchmarks.model import Figure
from benchmarks.peers import dbos_peer
from benchmarks.registry import PLANS, WORKLOADS, Bench, Plan, Workload, ordered
from redwood import App

RESULTS = Path(__file__).resolve().parent / "results"


def backend_of(database: str) -> str:
    """"postgresql" or "sqlite"."""
    return "postgresql" if database.startswith(("postgresql://", "postgres://")) else "sqlite"


def unavailable(database: str) -> str | None:
    """Why ``database`` cannot be benchmarked in this build, or None."""
    if backend_of(database) == "postgresql" and \
            importlib.util.find_spec("redwood.store.postgres") is None:
        return (f"PostgreSQL skipped for {database}: this build has no PostgreSQL store yet "
                "(redwood.store.postgres is missing).")
    return None


def run_backend(plan: Plan, database: str | None, chosen: list[Workload], notes: list[str],
                scratch_root: Path, peers: bool, databases: list[str]) -> tuple[list[Figure], bool]:
    """Every chosen workload on one store, with DBOS on the same kind of store interleaved when
    ``peers``; returns the figures and whether all succeeded."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-", suffix=".tmp", dir=scratch_root))
    url = database or str(scratch / "redwood.db")
    backend = backend_of(url)
    print(f"\n== Redwood on {backend}: {url}", flush=True)
    if backend == "postgresql":
        pg.create_database(url)
    app = App(url)
    bench = Bench(plan, backend, url, scratch, app, shared={"functions": Functions(app)})
    figures: list[Figure] = []
    ok = True
    try:
        if peers:
            bench.peers = _start_peers(backend, databases, scratch, notes)
        with app.run_worker():
            for item in (w for w in chosen if w.in_process):
                ok &= _run_one(item, bench, figures, notes)
        _close(bench)
        for item in (w for w in chosen if not w.in_process):
            ok &= _run_one(item, bench, figures, notes)
    finally:
        _close(bench)
        app.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return figures, ok


def run_peers_only(plan: Plan, backend: str, chosen: list[Workload], notes: list[str],
                   scratch_root: Path, databases: list[str]) -> list[Figure]:
    """DBOS alone on a kind of store Redwood did not run on (no ratio, but the same loops)."""
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="peers-", suffix=".tmp", dir=scratch_root) as tmp:
        bench = Bench(plan, backend, "", Path(tmp), None)
        bench.peers = _start_peers(backend, databases, Path(tmp), notes)
        if not bench.peers:
            return figures
        print(f"\n== peers only on {backend}", flush=True)
        try:
            for item in (w for w in chosen if w.key in dbos_peer.WORKLOADS):
                _run_one(item, bench, figures, notes)
        finally:
            _close(bench)
    return figures


def _start_peers(backend: str, databases: list[str], scratch: Path,
                 notes: list[str]) -> list[Any]:
    reason = dbos_peer.missing()
    if reason:
        if reason not in notes:
            notes.append(reason)
        return []
    try:
        return [dbos_peer.start(backend, databases, scratch)]
    except Exception as error:
        notes.append(f"DBOS on {backend} skipped: {type(error).__name__}: {error}")
        return []


def _close(bench: Bench) -> None:
    for peer in bench.peers:
        peer.close()
    bench.peers = []


def _run_one(item: Workload, bench: Bench, figures: list[Figure], notes: list[str]) -> bool:
    print(f"-- {item.key}: {item.title}", flush=True)
    try:
        measured = item.run(bench)
    except Exception as error:
        traceback.print_exc()
        notes.append(f"{item.key} on {bench.backend} FAILED: {type(error).__name__}: {error}")
        return False
    for figure in measured:
        print(report.console_line(figure), flush=True)
    figures.extend(measured)
    return True


def meta(args: argparse.Namespace, plan: Plan) -> dict[str, Any]:
    """Where and how this run happened."""
    return report.meta(plan.name, "python -m benchmarks.run " + shlex.join(args.argv),
                       cpus=os.cpu_count(), python=platform.python_version(),
                       sqlite=sqlite3.sqlite_version)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer executions (about a minute)")
    size.add_argument("--tiny", action="store_true",
                      help="a smoke test of the harness (a few executions; figures mean nothing)")
    parser.add_argument("--database", action="append", default=[], metavar="URL",
                        help="a SQLite path or postgresql:// URL; repeat for several "
                             "(default: a fresh SQLite file in a scratch directory of --out)")
    parser.add_argument("--peers", action="store_true",
                        help="also run W1, W2, W3 on DBOS (needs the 'bench' extra)")
    parser.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json/.md go")
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; 0 when every workload ran (missed targets are reported, not errors)."""
    args = parse(sys.argv[1:] if argv is None else argv)
    plan = PLANS["tiny" if args.tiny else "quick" if args.quick else "full"]
    only = {k.strip() for k in args.only.split(",") if k.strip()}
    unknown = only - WORKLOADS.keys()
    if unknown:
        print(f"unknown workloads {sorted(unknown)}; known: {list(WORKLOADS)}", file=sys.stderr)
        return 2
    # W1 needs the commit floor to compare itself to.
    chosen = [w for w in ordered()
              if not only or w.key in only or (w.key == "floor" and "W1" in only)]
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    info = meta(args, plan)
    figures: list[Figure] = []
    notes: list[str] = []
    ok = True
    covered = set()
    for database in args.database or [None]:
        reason = unavailable(database) if database else None
        if reason:
            print(reason, flush=True)
            notes.append(reason)
            continue
        measured, fine = run_backend(plan, database, chosen, notes, out, args.peers,
                                     args.database)
        covered.add(backend_of(database or "redwood.db"))
        figures += measured
        ok &= fine
    if args.peers:
        # DBOS on both kinds of system database, also where Redwood did not run (no ratio).
        for backend in ("sqlite", "postgresql"):
            if backend not in covered:
                figures += run_peers_only(plan, backend, chosen, notes, out, args.database)
    report.finish(info)
    rows = report.ratios(figures, "redwood", "dbos")
    json_path, md_path = report.write(out, info, figures, rows, notes)
    for row in rows:
        print(f"redwood/dbos {row['backend']:10} {row['workload']:4} {row['metric']:36} "
              f"{row['ratio']:.2f} ({row['better']} is better)")
    for note in notes:
        print(f"note: {note}")
    print(f"\nwrote {json_path} and {md_path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

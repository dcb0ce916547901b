"""The Redwood demo: one order survives a flaky payment gateway, another survives its worker
process being killed with SIGKILL halfway through.

Run it with ``./dev demo`` (``python -m examples.demo [--keep]`` from the repository root).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console

from examples import report
from examples.scenarios import run_crash_recovery, run_embedded, worker_command

__all__ = ["main", "run_crash_recovery", "run_embedded"]


def main(argv: list[str] | None = None) -> None:
    """Run both scenarios on a fresh database in a temporary directory and print what happened."""
    parser = argparse.ArgumentParser(prog="python -m examples.demo", description=__doc__)
    parser.add_argument("--keep", action="store_true",
                        help="Keep the database and logs, to explore them with `redwood show`.")
    arguments = parser.parse_args(argv)
    console = Console(highlight=False)
    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="redwood-demo-"))
    try:
        report.introduction(console, workdir)
        report.embedded(console, run_embedded(workdir))
        report.crash_introduction(console, worker_command(workdir / "orders.db"))
        report.recovery(console, run_crash_recovery(workdir))
        report.closing(console, workdir, time.monotonic() - began, arguments.keep)
    finally:
        if not arguments.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

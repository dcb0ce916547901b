"""The study's figures (matplotlib, written as PNG files)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt

from experiments.runs import Run
from experiments.summary import cells

MARKERS = {"baseline": "o", "durable": "s"}
COLOURS = {"counter": "tab:blue", "pipeline": "tab:orange"}


def store_ops_vs_time(runs: list[Run], path: Path) -> Path:
    """The paper's figure: store operations against time, one point per run (no faults)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for workload in ("counter", "pipeline"):
        for variant in ("baseline", "durable"):
            chosen = [r for r in runs if r.workload == workload and r.variant == variant
                      and r.fault_p == 0]
            if chosen:
                ax.scatter([r.time_ms for r in chosen], [r.store_ops for r in chosen],
                           marker=MARKERS[variant], color=COLOURS[workload], alpha=0.75,
                           label=f"{workload} / {variant} ({len(chosen)} runs)")
            commits = [(r.time_ms, r.engine_commits) for r in chosen
                       if r.engine_commits is not None]
            if commits:
                # Not store operations the user wrote, but honest to show: the engine's commits.
                ax.scatter([t for t, _ in commits], [c for _, c in commits],
                           marker=MARKERS[variant], facecolors="none",
                           edgecolors=COLOURS[workload], alpha=0.75,
                           label=f"{workload} / {variant}: Redwood's own commits")
    ax.set_xscale("log")
    ax.set_xlabel("time per run (ms, log scale)")
    ax.set_ylabel("store operations per run\n(filled: in user code; hollow: Redwood's commits)")
    ax.set_title("Store operations vs time: stateless baseline and Redwood durable functions")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def time_distributions(runs: list[Run], path: Path) -> Path:
    """Time per run, per workload and variant (no faults)."""
    labels, data = [], []
    for workload in ("counter", "pipeline"):
        for variant in ("baseline", "durable"):
            times = [r.time_ms for r in runs if r.workload == workload and r.variant == variant
                     and r.fault_p == 0 and r.completed]
            if times:
                labels.append(f"{workload}\n{variant}")
                data.append(times)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.boxplot(data, tick_labels=labels, showmeans=True)
    ax.set_yscale("log")
    ax.set_ylabel("time per run (ms, log scale)")
    ax.set_title("Time per run")
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def faults(runs: list[Run], path: Path) -> Path:
    """The pipeline under injected encode faults: completion rate and median time vs p."""
    pipeline = cells(r for r in runs if r.workload == "pipeline")
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4))
    for variant in ("baseline", "durable"):
        mine = sorted((c for c in pipeline if c.variant == variant), key=lambda c: c.fault_p)
        if not mine:
            continue
        ps = [c.fault_p for c in mine]
        left.plot(ps, [c.completed * 100 for c in mine], marker=MARKERS[variant], label=variant)
        right.plot(ps, [c.time_median for c in mine], marker=MARKERS[variant], label=variant)
    left.set_xlabel("fault probability per encode attempt")
    left.set_ylabel("runs completed (%)")
    left.set_ylim(0, 105)
    right.set_xlabel("fault probability per encode attempt")
    right.set_ylabel("median time per completed run (ms)")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle("Pipeline with injected encode faults")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def all_figures(runs: list[Run], out: Path) -> list[Path]:
    """Every figure, into ``out``."""
    return [store_ops_vs_time(runs, out / "store_ops_vs_time.png"),
            time_distributions(runs, out / "time_distributions.png"),
            faults(runs, out / "faults.png")]

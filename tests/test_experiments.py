"""The study and the benchmark harness run end to end in their tiny modes (no timing asserted:
speed is measured by the harness itself, not judged here)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from benchmarks import bound, cpu, payloads
from benchmarks import run as bench_run
from experiments import study
from experiments.runs import COLUMNS

PNG = b"\x89PNG\r\n\x1a\n"


def test_study_tiny_writes_one_row_per_run_with_results_and_figures(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    assert study.main(["--tiny", "--out", str(tmp_path), "--readme", str(readme)]) == 0

    with (tmp_path / "runs.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames is not None
        assert reader.fieldnames[:8] == ["workload", "variant", "run", "time_ms", "store_ops",
                                         "steps", "retries", "final_value"]
        assert reader.fieldnames == COLUMNS
        rows = list(reader)
    cells = {(r["workload"], r["variant"], float(r["fault_p"])) for r in rows}
    assert cells == {("counter", "baseline", 0.0), ("counter", "durable", 0.0)} | {
        ("pipeline", v, p) for v in ("baseline", "durable") for p in (0.0, 0.1, 0.3)}
    assert len(rows) == len(cells)  # one run each

    counters = [r for r in rows if r["workload"] == "counter"]
    assert {r["final_value"] for r in counters} == {"2"}
    assert {(r["variant"], r["store_ops"]) for r in counters} == {("baseline", "5"),
                                                                  ("durable", "0")}
    pipelines = [r for r in rows if r["workload"] == "pipeline" and r["completed"] == "1"]
    assert {r["fault_p"] for r in pipelines} >= {"0.0"}
    # Same work, same output: every completed pipeline run assembled the same video.
    assert len({r["final_value"] for r in pipelines}) == 1
    assert all(int(r["store_ops"]) > 50 for r in pipelines if r["variant"] == "baseline")
    assert all(r["store_ops"] == "0" and int(r["steps"]) == 13
               for r in pipelines if r["variant"] == "durable")

    for name in ("store_ops_vs_time.png", "time_distributions.png", "faults.png"):
        assert (tmp_path / name).read_bytes().startswith(PNG), name
    text = readme.read_text()
    assert "| pipeline | durable | 10 | 530.0 | 0.0 |" in text
    assert "![store operations vs time](store_ops_vs_time.png)" in text
    assert (tmp_path / "summary.csv").read_text().count("\n") == len(cells) + 1


def test_benchmark_tiny_writes_json_and_markdown_of_every_workload(tmp_path: Path) -> None:
    assert bench_run.main(["--tiny", "--out", str(tmp_path)]) == 0

    document = json.loads((tmp_path / "latest.json").read_text())
    assert document["meta"]["plan"] == "tiny"
    assert {"commit", "cpus", "load_before", "load_after", "command"} <= document["meta"].keys()
    figures = document["figures"]
    assert {f["workload"] for f in figures} == {"floor", "W1", "W2", "W3", "W4", "W5"}
    for figure in figures:
        assert {"system", "backend", "workload", "metric", "value", "unit", "target", "met",
                "details"} <= figure.keys()
        assert figure["system"] in ("redwood", "raw commit") and figure["backend"] == "sqlite"
        assert isinstance(figure["value"], float) and figure["value"] >= 0
    metrics = {(f["workload"], f["metric"]) for f in figures}
    assert ("floor", "commit median (after each W1 sync)") in metrics
    for flavour in ("sync", "async"):
        assert ("W1", f"median latency ({flavour})") in metrics
        assert ("W1", f"median / commit floor ({flavour})") in metrics
        assert ("W1", f"back-to-back ({flavour})") in metrics
    ratio = next(f for f in figures if f["metric"] == "median / commit floor (sync)")
    # 1 commit to start, one per step before the next step body, one to finish: 11 for W1
    # (a lease renewal may land in the window too).
    assert 11 <= ratio["details"]["commits_per_execution"] < 12
    w1 = next(f for f in figures if f["metric"] == "median latency (sync)")
    assert w1["target"] == "<= 3" and w1["met"] in (True, False)
    assert {"p90", "p99", "median"} <= w1["details"].keys()
    w2 = next(f for f in figures if f["workload"] == "W2")
    assert w2["details"]["fanout"] == "map"
    assert document["ratios"] == {"redwood/dbos": []}
    markdown = (tmp_path / "latest.md").read_text()
    assert "| redwood | sqlite | W1 | median latency (sync) |" in markdown
    assert not list(tmp_path.glob("*.tmp"))  # scratch removed


def test_cpu_benchmark_records_cpu_per_execution(tmp_path: Path) -> None:
    assert cpu.main(["--tiny", "--out", str(tmp_path), "--label", "smoke"]) == 0
    [line] = (tmp_path / "cpu.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["label"] == "smoke" and record["store"] == "sqlite"
    assert record["back_to_back"]["cpu_ms"] > 0 and record["50_in_flight"]["per_second"] > 0


def test_bound_benchmark_sends_w1_statements_beside_redwood(tmp_path: Path) -> None:
    assert bound.main(["--tiny", "--out", str(tmp_path)]) == 0
    figures = json.loads((tmp_path / "bound.json").read_text())["figures"]
    measured = {(f["system"], f["metric"]) for f in figures}
    for durability in ("os-crash", "none"):
        for system in ("bound", "redwood"):
            assert (system, f"CPU per execution ({durability})") in measured
        assert ("redwood", f"median latency / bound ({durability})") in measured
    assert all(f["value"] > 0 for f in figures)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bound.json", "bound.md"]  # no scratch


def test_payloads_benchmark_measures_both_sizes_and_the_stored_bytes(tmp_path: Path) -> None:
    assert payloads.main(["--tiny", "--out", str(tmp_path), "--label", "smoke"]) == 0
    [line] = (tmp_path / "payloads.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["label"] == "smoke"
    # Ten results of ~120 KB each (quotes escaped) in the journal; none of them in the history.
    assert record["large"]["journal_kib"] > 10 * 100 > record["large"]["history_kib"]
    assert record["large/small"]["median_ms"] > 0

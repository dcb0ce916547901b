"""The PostgreSQL benchmarks with worker processes run end to end in their tiny modes against
the test database and write the figures they promise (no timing asserted: speed is measured by
the benchmarks themselves, not judged here)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmarks import pg_scale, pg_sleepers, pg_statements


def _written(out: Path, name: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]], str]:
    document = json.loads((out / f"{name}.json").read_text())
    assert {"meta", "figures", "notes"} <= document.keys()
    assert {"plan", "commit", "cpus", "postgres", "load_before", "load_after",
            "command"} <= document["meta"].keys()
    figures = {f["metric"]: f for f in document["figures"]}
    assert len(figures) == len(document["figures"])  # every metric named once
    for figure in figures.values():
        assert figure["system"] in ("redwood", "raw commit")
        assert figure["backend"] == "postgresql"
        assert math.isfinite(figure["value"]), figure
    markdown = (out / f"{name}.md").read_text()
    return document, figures, markdown


def test_pg_scale_tiny_measures_one_worker_and_the_process_ladder(
    tmp_path: Path, postgres_url: str
) -> None:
    assert pg_scale.main(["--tiny", "--database", postgres_url, "--out", str(tmp_path)]) == 0

    document, figures, markdown = _written(tmp_path, "pg_scale")
    assert document["meta"]["plan"] == "tiny"
    for who in ("embedded worker", "1 worker process"):
        assert figures[f"median latency ({who})"]["unit"] == "ms"
        assert figures[f"median latency ({who})"]["details"]["n"] == 4  # 2 rounds of 2
        assert figures[f"2 in flight ({who})"]["unit"] == "exec/s"
    for label in ("1 worker process", "2 worker processes"):
        drained = figures[f"backlog drained by {label}"]
        assert drained["unit"] == "exec/s" and drained["value"] > 0
        assert drained["details"]["backlog"] == 6
        for cpu in ("worker", "PostgreSQL", "machine"):
            assert figures[f"{cpu} CPU per execution ({label})"]["value"] >= 0
    ratio = figures["scaling 2/1 worker processes"]
    assert ratio["unit"] == "x" and ratio["details"]["ideal"] == 2.0
    assert math.isclose(ratio["value"], ratio["details"]["per_second"]
                        / ratio["details"]["per_second_1"], rel_tol=0.05)
    commit = figures["commit median (interleaved)"]
    assert (commit["system"], commit["unit"], commit["details"]["n"]) == ("raw commit", "ms", 4)
    raw = figures["commits/s from 10 connections"]
    assert raw["system"] == "raw commit" and len(raw["details"]["rounds"]) == 2
    assert math.isclose(figures["W1 ceiling from commits alone"]["value"], raw["value"] / 11,
                        rel_tol=0.01)
    ours = [f for f in figures.values() if f["system"] == "redwood"]
    assert markdown.count("| redwood | postgresql | W1 |") == len(ours)


def test_pg_sleepers_tiny_wakes_every_sleeper_never_early_and_weighs_them(
    tmp_path: Path, postgres_url: str
) -> None:
    assert pg_sleepers.main(["--tiny", "--database", postgres_url, "--out", str(tmp_path)]) == 0

    document, figures, markdown = _written(tmp_path, "pg_sleepers")
    label = "6, deadline +3 s"
    p99 = figures[f"p99 wake-up lateness ({label})"]
    details = p99["details"]
    assert details["n"] == 6 and details["executions"] == 6
    assert details["asleep_before_deadline"] + details["recorded_after_deadline"] == 6
    # A timer never fires before its scheduled end.
    assert details["minimum"] >= 0
    assert figures[f"p50 wake-up lateness ({label})"]["value"] <= p99["value"]
    if details["asleep_before_deadline"] == 6:
        assert figures[f"RSS per sleeping execution ({label})"]["unit"] == "KiB"
        objects = figures[f"Python objects per sleeping execution ({label})"]
        assert "grown_types" in objects["details"]
    else:  # a slow start: the second run gives them room to sleep together
        assert len(document["notes"]) >= 1
    assert markdown.count("| redwood | postgresql | W4 |") == len(figures)


def test_pg_statements_measures_each_statement_a_w1_execution_sends(
    tmp_path: Path, postgres_url: str
) -> None:
    assert pg_statements.main(["--database", postgres_url, "--count", "10",
                               "--out", str(tmp_path)]) == 0
    figures = json.loads((tmp_path / "pg_statements.json").read_text())["figures"]
    assert {"start (leased)", "step checkpoint alone", "step checkpoint in CHECKPOINTS",
            "ending alone", "read of the execution"} <= figures.keys()
    for figure in figures.values():
        assert figure["server_cpu_ms"] >= 0 and figure["round_trip_ms"] > 0

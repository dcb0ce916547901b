"""The ``redwood`` command line against real SQLite files, populated by running real executions."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conftest import wait_until
from fixtures_app.shop import Item, create_app, many_steps
from redwood import App, ExecutionHandle, ManualClock
from redwood.cli import main
from redwood.cli.timespec import parse_moment
from redwood.store.base import NewExecution
from redwood.types import ExecutionStatus

TESTS = Path(__file__).parent
APP = "fixtures_app.shop:create_app"


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``redwood ARGS`` in this process and return what it printed and its exit code."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def run_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database holding: order-1 (checkout, succeeded after a retry and a wait), order-2
    (checkout, waiting for its retry), broken-1 (failed), many (30 steps, succeeded)."""
    path = tmp_path_factory.mktemp("populated") / "cli.db"
    clock = ManualClock()
    with create_app(str(path), clock) as app:
        worker = app.worker()
        app.start("checkout", Item(sku="A-1", quantity=2), id="order-1")
        app.start("broken", id="broken-1")
        app.start("many_steps", 30, id="many")
        worker.drain()
        clock.advance(2)
        worker.drain()
        clock.advance(61)
        worker.drain()
        clock.advance(10)
        app.start("checkout", Item(sku="B-2", quantity=1), id="order-2")
        worker.drain()
    return path


@pytest.fixture
def db(populated: Path, tmp_path: Path) -> str:
    """A copy of the populated database of this test's own (commands may change it)."""
    copy = tmp_path / "cli.db"
    for suffix in ("", "-wal"):
        if Path(f"{populated}{suffix}").exists():
            shutil.copyfile(f"{populated}{suffix}", f"{copy}{suffix}")
    return str(copy)


# --- list -----------------------------------------------------------------------------------


def test_list_prints_every_execution_newest_first_with_its_status(db: str) -> None:
    result = run("list", "-d", db)
    assert result.exit_code == 0
    lines = [line.split() for line in result.stdout.splitlines()[1:]]
    assert lines[0][0] == "order-2"
    assert {line[0]: line[2] for line in lines} == {
        "order-2": "RUNNING", "order-1": "SUCCEEDED", "many": "SUCCEEDED", "broken-1": "FAILED",
    }


def test_list_json_filters_by_function_and_status(db: str) -> None:
    rows = run_json("list", "-d", db, "--function", "checkout", "--status", "succeeded")
    assert [row["id"] for row in rows] == ["order-1"]
    row = rows[0]
    assert row["status"] == "SUCCEEDED"
    assert row["input"] == {"sku": "A-1", "quantity": 2}
    assert row["result"] == {"sku": "A-1", "total": 7}
    assert row["invocations"] == 3
    assert row["duration"] == pytest.approx(63.0)
    assert datetime.fromisoformat(row["created_at"]).timestamp() == pytest.approx(1.8e9)


def test_list_status_accepts_repeats_and_commas(db: str) -> None:
    rows = run_json("list", "-d", db, "--status", "failed,running", "-s", "FAILED")
    assert sorted(row["id"] for row in rows) == ["broken-1", "order-2"]


def test_list_limit_caps_the_rows_and_says_so(db: str) -> None:
    assert len(run_json("list", "-d", db, "--limit", "2")) == 2
    assert "show more with --limit" in run("list", "-d", db, "--limit", "2").stdout


def test_list_since_and_until_take_relative_ages_and_iso_times(tmp_path: Path) -> None:
    path = str(tmp_path / "ages.db")
    clock = ManualClock(start=time.time() - 3 * 3600)
    with create_app(path, clock) as app:
        app.start("quick", "old", id="three-hours-ago")
        clock.advance(2.5 * 3600)
        app.start("quick", "new", id="half-an-hour-ago")
    assert [r["id"] for r in run_json("list", "-d", path, "--since", "1h")] == ["half-an-hour-ago"]
    two_hours_ago = datetime.fromtimestamp(time.time() - 2 * 3600, UTC).isoformat()
    assert [r["id"] for r in run_json("list", "-d", path, "--until", two_hours_ago)] == [
        "three-hours-ago"
    ]


def test_list_rejects_an_unknown_status_or_moment_with_exit_code_2(db: str) -> None:
    bad_status = run("list", "-d", db, "--status", "DONE")
    assert bad_status.exit_code == 2
    assert "'DONE' is not an execution status" in bad_status.output
    bad_moment = run("list", "-d", db, "--since", "yesterday-ish")
    assert bad_moment.exit_code == 2
    assert "is not a moment" in bad_moment.output


def test_list_finds_the_database_in_the_environment_variable(db: str, tmp_path: Path) -> None:
    result = run("list", "--json", env={"REDWOOD_DATABASE_URL": db})
    assert len(json.loads(result.stdout)) == 4


def test_list_on_an_empty_database_says_so(tmp_path: Path) -> None:
    App(tmp_path / "empty.db").close()
    result = run("list", "-d", str(tmp_path / "empty.db"))
    assert result.exit_code == 0
    assert "No executions match." in result.stdout


def test_user_data_that_looks_like_markup_prints_literally(tmp_path: Path) -> None:
    path = str(tmp_path / "markup.db")
    with create_app(path, ManualClock()) as app:
        app.start("quick", "[red]x[/red]", id="[bold]odd")
        app.worker().drain()
    assert "[bold]odd" in run("list", "-d", path).stdout
    out = run("show", "[bold]odd", "-d", path).stdout
    assert "Execution    [bold]odd" in out
    assert 'Result       "hello [red]x[/red]"' in out
    assert '→ "hello [red]x[/red]"' in out


def test_read_commands_refuse_a_database_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    for command in (["list"], ["show", "x"], ["cancel", "x"]):
        result = run(*command, "-d", str(missing))
        assert result.exit_code == 2
        assert f'No Redwood database at "{missing}": the file does not exist.' in result.stderr
    assert not missing.exists()


# --- show -----------------------------------------------------------------------------------


def test_show_prints_header_operation_tree_and_history(db: str) -> None:
    result = run("show", "order-1", "-d", db)
    assert result.exit_code == 0
    out = result.stdout
    assert "Status       SUCCEEDED" in out
    assert "Duration     1m 3s" in out
    assert "Invocations  3" in out
    assert 'Result       {"sku": "A-1", "total": 7}' in out
    assert "Operations (3)" in out
    assert "#1 step price  SUCCEEDED" in out
    assert "#2 step flaky  SUCCEEDED  2 attempts  2.00 s  → 7" in out
    assert "#3 wait cooling-off  SUCCEEDED  1m 1s" in out
    assert "History (13 events)" in out
    history = out.split("History")[1]
    assert "FlakyError: attempt 1 of flaky failed  retry in 1.00 s" in history
    assert "WaitStarted" in history and "for 1m 0s" in history
    assert "#3 SUCCEEDED" in history


def test_show_of_a_waiting_execution_says_when_the_retry_comes(db: str) -> None:
    out = run("show", "order-2", "-d", db).stdout
    assert "Status           RUNNING" in out
    assert "Next invocation" in out
    assert "#2 step flaky  PENDING  next attempt at" in out


def test_show_of_a_failed_execution_prints_the_error_and_its_traceback(db: str) -> None:
    out = run("show", "broken-1", "-d", db, "--no-history").stdout
    assert "Status       FAILED" in out
    assert "StepFailed: Step \"_explode\" (operation #1)" in out
    assert "RuntimeError: the warehouse is on fire" in out
    assert "Traceback (most recent call last)" in out
    assert "#1 step _explode  FAILED" in out
    assert "History" not in out


def test_show_json_holds_the_journal_children_and_history(db: str) -> None:
    data = run_json("show", "order-1", "-d", db)
    assert data["execution"]["id"] == "order-1"
    flaky = data["operations"][1]
    assert (flaky["id"], flaky["type"], flaky["name"], flaky["status"], flaky["attempt"]) == (
        "2", "STEP", "flaky", "SUCCEEDED", 2)
    assert flaky["result"] == 7
    assert flaky["duration"] == pytest.approx(2.0)
    assert [op["id"] for op in data["operations"]] == ["1", "2", "3"]
    assert data["children"] == []
    types = [event["type"] for event in data["history"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionSucceeded"
    failed = next(event for event in data["history"] if event["type"] == "StepFailed")
    assert failed["details"]["retry"]["delay"] == 1.0
    assert "history" not in run_json("show", "order-1", "-d", db, "--no-history")


def test_show_handles_an_execution_with_hundreds_of_operations(tmp_path: Path) -> None:
    path = str(tmp_path / "big.db")
    # Durability "none" only makes populating fast; the command reads the file the same way.
    with App(path, clock=ManualClock(), durability="none") as app:
        app.function(many_steps)
        app.start("many_steps", 600, id="big")
        app.worker().drain()
    out = run("show", "big", "-d", path).stdout
    assert "Operations (600)" in out
    assert "#1 step add-0  SUCCEEDED" in out
    assert "#600 step add-599  SUCCEEDED" in out
    # 1,200 step events and more: read across several history pages, none lost.
    data = run_json("show", "big", "-d", path)
    assert len(data["operations"]) == 600
    assert len(data["history"]) == 2 * 600 + 3
    assert data["execution"]["result"] == sum(range(600))


def test_show_lists_child_executions(db: str) -> None:
    with App(db) as app:
        for index in (1, 2):
            app.store.create_execution(NewExecution(
                id=f"order-1-child-{index}", function="quick", input='"kid"', now=1.8e9 + index,
                parent_execution_id="order-1", parent_operation_id=str(index)))
    out = run("show", "order-1", "-d", db, "--no-history").stdout
    assert "Child executions (2)" in out
    assert "order-1-child-1  quick     RUNNING  #1" in out
    children = run_json("show", "order-1", "-d", db)["children"]
    assert [child["id"] for child in children] == ["order-1-child-1", "order-1-child-2"]
    assert children[0]["parent_operation_id"] == "1"


def test_show_of_an_unknown_execution_prints_a_red_message_without_traceback(db: str) -> None:
    result = run("show", "nope", "-d", db)
    assert result.exit_code == 1
    assert 'No execution "nope". Check the id with `redwood list`.' in result.stderr
    assert "Traceback" not in result.output


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_stops_a_waiting_execution_and_refuses_a_finished_one(db: str) -> None:
    result = run("cancel", "order-2", "-d", db)
    assert result.exit_code == 0
    assert "Stopped execution order-2." in result.stdout
    assert run_json("show", "order-2", "-d", db)["execution"]["status"] == "STOPPED"
    again = run("cancel", "order-2", "-d", db)
    assert again.exit_code == 1
    assert 'Execution "order-2" already ended STOPPED' in again.stderr


def test_cancel_json_returns_the_execution(db: str) -> None:
    assert run_json("cancel", "order-2", "-d", db)["status"] == "STOPPED"


# --- start ----------------------------------------------------------------------------------


def _ids(path: str) -> list[str]:
    with App(path) as app:
        return [execution.id for execution in app.client.list()]


def test_start_creates_the_execution_and_prints_its_id(tmp_path: Path) -> None:
    path = str(tmp_path / "start.db")
    result = run("start", APP, "checkout", "--input", '{"sku": "C-3", "quantity": 4}',
                 "--id", "order-9", "-d", path)
    assert result.exit_code == 0, result.output
    assert "Started execution order-9 of checkout." in result.stdout
    with App(path) as app:
        execution = app.client.get("order-9")
    assert execution.function == "checkout"
    assert json.loads(execution.input or "") == {"sku": "C-3", "quantity": 4}
    assert execution.status is ExecutionStatus.RUNNING


def test_start_takes_the_app_from_the_option_or_environment(tmp_path: Path) -> None:
    path = str(tmp_path / "start.db")
    assert run("start", "--app", APP, "quick", "-i", '"a"', "--id", "a", "-d", path).exit_code == 0
    by_env = run("start", "quick", "-i", '"b"', "--id", "b", "-d", path, env={"REDWOOD_APP": APP})
    assert by_env.exit_code == 0, by_env.output
    assert sorted(_ids(path)) == ["a", "b"]


def test_start_again_with_the_same_id_starts_nothing_new(tmp_path: Path) -> None:
    path = str(tmp_path / "start.db")
    first = run_json("start", APP, "quick", "-i", '"x"', "--id", "same", "-d", path)
    second = run_json("start", APP, "quick", "-i", '"y"', "--id", "same", "-d", path)
    assert (first["created"], second["created"]) == (True, False)
    assert second["execution"]["input"] == "x"
    assert _ids(path) == ["same"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["quick", "--input", "{not json"], "--input is not valid JSON"),
        (["quick", "--input", "bob"], "a string needs its quotes"),
        (["nope", "--input", "1"], 'No durable function named "nope" is registered'),
        (["quick", "--input", '"x"', "--id", "has space"], "Invalid execution id 'has space'"),
        (["checkout", "--input", '{"sku": 5}'],
         'The input does not fit function "checkout", which takes Item: sku: Input should be a '
         "valid string; quantity: Field required"),
        (["broken", "--input", "1"], 'Function "broken" takes no input'),
    ],
)
def test_start_refuses_bad_input_with_exit_code_2_and_writes_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    path = str(tmp_path / "start.db")
    result = run("start", APP, *args, "-d", path)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert _ids(path) == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fixtures_app.shop", 'Invalid app "fixtures_app.shop": expected MODULE:ATTRIBUTE'),
        ("fixtures_app.nothing:app", 'Cannot import module "fixtures_app.nothing"'),
        ("fixtures_app.shop:nope", 'Module "fixtures_app.shop" has no attribute "nope"'),
        ("fixtures_app.shop:Item", "is the class Item, not a redwood.App"),
    ],
)
def test_start_explains_an_app_it_cannot_load(tmp_path: Path, spec: str, message: str) -> None:
    result = run("start", spec, "quick", "-d", str(tmp_path / "x.db"))
    assert result.exit_code == 2
    assert message in result.stderr


def test_start_refuses_an_app_bound_to_another_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bound_app.py").write_text(
        "from fixtures_app.shop import create_app\n"
        f"app = create_app({str(tmp_path / 'own.db')!r})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "bound_app", raising=False)
    result = run("start", "bound_app:app", "quick", "-d", str(tmp_path / "other.db"))
    assert result.exit_code == 2
    assert f'uses the database "{tmp_path / "own.db"}", but --database asks for' in result.stderr
    assert not (tmp_path / "other.db").exists()


def test_start_wait_prints_the_result_once_a_worker_ran_it(tmp_path: Path) -> None:
    path = str(tmp_path / "wait.db")
    with create_app(path) as app, app.run_worker():
        result = run("start", APP, "quick", "-i", '"ada"', "--id", "w", "--wait",
                     "--timeout", "30", "-d", path)
    assert result.exit_code == 0, result.output
    assert "SUCCEEDED in" in result.stdout
    assert '"hello ada"' in result.stdout


def test_start_wait_of_a_failing_execution_exits_1_with_its_error(tmp_path: Path) -> None:
    path = str(tmp_path / "wait.db")
    with create_app(path) as app, app.run_worker():
        data = run("start", APP, "broken", "--wait", "--json", "-d", path)
    assert data.exit_code == 1
    execution = json.loads(data.stdout)["execution"]
    assert execution["status"] == "FAILED"
    assert "the warehouse is on fire" in execution["error"]["message"]


def test_start_wait_gives_up_after_the_timeout(tmp_path: Path) -> None:
    result = run("start", APP, "quick", "-i", '"x"', "--id", "slow", "--wait", "--timeout",
                 "0.1", "-d", str(tmp_path / "none.db"))
    assert result.exit_code == 1
    assert 'Execution "slow" is still RUNNING after 0.1s' in result.stderr


# --- moments --------------------------------------------------------------------------------


def test_parse_moment_reads_ages_iso_times_and_epoch_seconds() -> None:
    now = 2_000_000_000.0
    assert parse_moment("90s", now) == now - 90
    assert parse_moment("1h30m", now) == now - 5400
    assert parse_moment("2d", now) == now - 2 * 86400
    assert parse_moment("1w", now) == now - 7 * 86400
    assert parse_moment("now", now) == now
    assert parse_moment("1800000000", now) == 1_800_000_000
    assert parse_moment("2027-01-15T08:00:00+00:00", now) == 1_800_000_000
    local = datetime(2027, 1, 15, 8, 0).astimezone().timestamp()
    assert parse_moment("2027-01-15T08:00", now) == local
    with pytest.raises(ValueError, match="is not a moment"):
        parse_moment("soon", now)


# --- a real worker process ------------------------------------------------------------------


def test_worker_process_runs_executions_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    path = str(tmp_path / "process.db")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(TESTS), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "redwood.cli", "worker", APP, "-d", path, "--lease", "5"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        with create_app(path) as app:
            handle: ExecutionHandle[Any] = app.start("quick", "grace", id="from-the-test")
            assert handle.result(timeout=30) == "hello grace"
            assert app.client.get("from-the-test").lease_owner is None
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    banner = out.splitlines()[0]
    assert banner.startswith("redwood worker ")
    assert f"database {path}" in banner
    assert "functions broken, checkout, gated, many_steps, quick" in banner
    assert out.splitlines()[-1].endswith("stopped")
    assert "Traceback" not in err


def test_worker_process_on_sigterm_hands_a_running_execution_back(tmp_path: Path) -> None:
    path = str(tmp_path / "handback.db")
    gate, output = tmp_path / "gate", tmp_path / "worker.out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(filter(None, [
        str(TESTS), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "redwood.cli", "worker", APP, "-d", path]
    with open(output, "wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        with create_app(path) as app:
            app.start("gated", str(gate), id="gated")
            wait_until(lambda: Path(f"{gate}.started").exists(), 30, "the gate step to start")
            process.send_signal(signal.SIGTERM)
            wait_until(lambda: "stopping" in output.read_text(), 30, "the worker to stop")
            gate.touch()
            assert process.wait(timeout=30) == 0, output.read_text()
            execution = app.client.get("gated")
            assert execution.status is ExecutionStatus.RUNNING
            assert execution.lease_owner is None and execution.ready_at is not None
            names = [op.name for op in app.store.operations("gated")]
            assert "gate" in names and "last" not in names
            app.worker().drain()
            assert app.client.result("gated", timeout=5) == "last"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert output.read_text().splitlines()[-1].endswith("stopped")

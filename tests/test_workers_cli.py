"""`redwood workers`: live workers with their leases and load, from the workers table."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import wait_until
from redwood import App, DurableContext
from redwood.cli.workers import workers


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "workers.db")
    else:
        yield request.getfixturevalue("postgres_url")


def test_workers_lists_a_running_worker_with_its_lease_and_load(database: str) -> None:
    release = threading.Event()

    def hold() -> str:
        assert release.wait(20)
        return "done"

    runner = CliRunner()
    with App(database) as app:
        @app.function
        def slow(ctx: DurableContext) -> str:
            return ctx.step(hold)

        worker = app.worker(concurrency=4, lease_seconds=3).start()
        handle = app.start(slow, id="slow-1")
        try:
            # The lease shows at once; the load with the next heartbeat (every lease / 3).
            wait_until(lambda: [(w.leases, w.load) for w in app.store.list_workers(
                app.clock.now())] == [(("slow-1",), 0.25)], what="the worker holding the lease")

            listed = runner.invoke(workers, ["--database", database, "--json"])
            assert listed.exit_code == 0, listed.output
            [shown] = json.loads(listed.output)
            assert shown["id"] == worker.worker_id and shown["leases"] == ["slow-1"]
            assert shown["info"]["pid"] == os.getpid() and shown["info"]["concurrency"] == 4
            assert shown["info"]["lease_seconds"] == 3 and shown["load"] == 0.25
            assert shown["info"]["functions"] == ["slow"]

            table = runner.invoke(workers, [], env={"REDWOOD_DATABASE_URL": database})
            assert table.exit_code == 0, table.output
            assert "1 live worker(s)" in table.output and "slow-1" in table.output
            assert "1/4 (25%)" in table.output
        finally:
            release.set()
            assert handle.result(timeout=10) == "done"
            worker.stop()
        after = runner.invoke(workers, ["--database", database])
        assert after.exit_code == 0 and "No live workers." in after.output
        assert json.loads(runner.invoke(workers, ["--database", database, "--json"]).output) == []

"""The README's opening example runs, as written, in both replay modes (its step functions are
the only thing the test supplies; its hour-long wait is skipped with the manual clock)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from redwood import App, ManualClock, RetryPolicy

README = Path(__file__).resolve().parents[1] / "README.md"


def _first_example() -> tuple[str, str]:
    block = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[0]
    definitions, _, driver = block.partition("with app.run_worker():")
    return definitions, driver


@pytest.mark.parametrize("always_replay", [False, True], ids=["replay-on-resume", "always-replay"])
def test_readme_example_runs_and_survives_its_wait(tmp_path: Path, always_replay: bool) -> None:
    definitions, driver = _first_example()
    assert "app.start(process_order" in driver and "ctx.wait(3600)" in definitions
    calls: list[str] = []
    clock = ManualClock()
    namespace: dict[str, Any] = {
        "reserve_inventory": lambda order_id: calls.append(f"reserve {order_id}"),
        "charge_card": lambda order_id: f"charge-{order_id}",
        "send_confirmation": lambda order_id, charge: calls.append(f"confirm {charge}"),
    }
    code = definitions.replace("from redwood import App, RetryPolicy\n", "")
    namespace["App"] = lambda database: App(tmp_path / database, clock=clock,
                                            always_replay=always_replay)
    namespace["RetryPolicy"] = RetryPolicy
    exec(compile(code, str(README), "exec"), namespace)
    app: App = namespace["app"]
    try:
        handle = app.start(namespace["process_order"], "order-42", id="order-42")
        worker = app.worker()
        worker.drain()
        assert calls == ["reserve order-42"]  # now waiting for an hour, holding nothing
        clock.advance(3600)
        worker.drain()
        assert handle.result(timeout=5) == "charge-order-42"
        assert calls == ["reserve order-42", "confirm charge-order-42"]
    finally:
        app.close()

"""Every example in docs/trees.md runs, also with always-replay (suspend and replay after every
operation), and prints what the page says it does."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import pytest

import redwood

DOC = Path(__file__).parent.parent / "docs" / "trees.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)

EXPECTED = [
    ["no extras: redwood.errors.StepFailed", "{'customer': 'ada', 'total': 340}"],
    ["{'done': ['a-small.jpg', 'c-small.jpg'], 'failed': [1], 'reason': 'ALL_COMPLETED'}",
     "['reserved order-7', 'charged order-7']"],
    ["charged 40", "card failed (FAILED), sent an invoice instead", "pay-40"],
    ["ExecutionTimedOut"],
    ["STOPPED ['STOPPED', 'STOPPED', 'STOPPED']"],
    ["cancelled hotel-booking", "cancelled flight-booking",
     "{'booked': False, 'why': 'no cars left', 'undone': ['cancel', 'cancel']}"],
]

# The cancellation example stops its executions before any of them is invoked a second time.
CANCELLED_BEFORE_ANY_REPLAY = 4


def test_every_block_has_its_expected_output() -> None:
    assert len(BLOCKS) == len(EXPECTED)


@pytest.mark.parametrize("always_replay", [False, True], ids=["normal", "always-replay"])
@pytest.mark.parametrize("index", range(len(EXPECTED)))
def test_docs_example_runs(index: int, always_replay: bool, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    apps: list[redwood.App] = []

    class TestApp(redwood.App):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "always_replay": always_replay})
            apps.append(self)

    monkeypatch.setattr(redwood, "App", TestApp)
    monkeypatch.chdir(tmp_path)
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            exec(compile(BLOCKS[index], f"{DOC.name} block {index + 1}", "exec"), {})
        assert output.getvalue().splitlines() == EXPECTED[index]
        if always_replay and index != CANCELLED_BEFORE_ANY_REPLAY:
            assert any(e.invocations > 1 for app in apps for e in app.client.list())
    finally:
        for app in apps:
            app.close()

"""Every Python example in docs/operations.md runs, and its assertions hold (also replaying after
every operation)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from redwood import App, ManualClock

DOC = Path(__file__).resolve().parent.parent / "docs" / "operations.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_operations_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("index", range(len(EXAMPLES)), ids=lambda i: f"example-{i + 1}")
def test_operations_doc_example_runs(index: int, any_app: App, clock: ManualClock) -> None:
    code = compile(EXAMPLES[index], f"{DOC}, example {index + 1}", "exec")
    exec(code, {"app": any_app, "clock": clock, "__name__": f"doc_example_{index + 1}"})

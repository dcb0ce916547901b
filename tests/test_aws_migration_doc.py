"""The examples of docs/aws-migration.md run in order, in one namespace, and their assertions
hold (also with Redwood's functions replaying after every operation)."""

from __future__ import annotations

import re
from pathlib import Path

from redwood import App, ManualClock

DOC = Path(__file__).resolve().parent.parent / "docs" / "aws-migration.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_migration_doc_shows_the_function_three_ways() -> None:
    assert len(EXAMPLES) == 3


def test_migration_doc_examples_run(any_app: App, clock: ManualClock) -> None:
    namespace = {"app": any_app, "clock": clock, "__name__": "aws_migration_doc"}
    for index, example in enumerate(EXAMPLES):
        exec(compile(example, f"{DOC}, example {index + 1}", "exec"), namespace)
    assert any_app.client.get("o-7").status.value == "SUCCEEDED"
    assert any_app.client.get("o-8").status.value == "SUCCEEDED"

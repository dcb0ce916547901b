"""Lines of coordination code: the non-blank, non-comment lines between the markers
``# coordination: begin <workload>`` and ``# coordination: end`` of a source file."""

from __future__ import annotations

import inspect
from types import ModuleType

BEGIN = "# coordination: begin"
END = "# coordination: end"


def coordination_lines(source: str, workload: str) -> int:
    """Count the code lines inside every marker pair of ``source`` labelled ``workload``."""
    count = 0
    inside: str | None = None
    for raw in source.splitlines():
        line = raw.strip()
        if line.startswith(BEGIN):
            inside = line.removeprefix(BEGIN).strip()
        elif line == END:
            inside = None
        elif inside == workload and line and not line.startswith(("#", '"""', "'''")):
            count += 1
    if inside is not None:
        raise ValueError(f"unclosed {BEGIN!r} marker")
    return count


def of_module(module: ModuleType, workload: str) -> int:
    """``coordination_lines`` of a module's source."""
    return coordination_lines(inspect.getsource(module), workload)

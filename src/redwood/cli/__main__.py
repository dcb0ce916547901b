"""``python -m redwood.cli``: the same as the ``redwood`` command."""

from __future__ import annotations

from redwood.cli import main

main()

"""Control-flow signals. They derive from BaseException so that no ``except Exception`` in user
code can swallow a suspension or a stop."""

from __future__ import annotations


class Suspend(BaseException):
    """End this invocation now; the engine resumes the execution when something is due."""

    def __init__(self, reason: str, immediate: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.immediate = immediate


class Stop(BaseException):
    """The execution was cancelled: unwind user code and record it as STOPPED."""

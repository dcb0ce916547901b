"""What ``ctx.map`` and ``ctx.parallel`` return, and when they are done: BatchResult, the
completion policy, and the compact form a batch's outcome is recorded in.

The Map/Parallel CONTEXT operation records ``{"completion_reason": "...", "statuses": "SSFCN"}``:
one letter per branch in index order (S succeeded, F failed, C cancelled: started but unfinished
when the batch completed, N never started). Branch values and errors are not repeated there: they
live on the branch operations themselves (ids ``<batch id>-1`` ... ``<batch id>-<n>``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from redwood.errors import ChildContextFailed, ValidationError

T = TypeVar("T")


class CompletionReason(StrEnum):
    """Why a batch stopped starting branches."""

    ALL_COMPLETED = "ALL_COMPLETED"
    MIN_SUCCESSFUL_REACHED = "MIN_SUCCESSFUL_REACHED"
    FAILURE_TOLERANCE_EXCEEDED = "FAILURE_TOLERANCE_EXCEEDED"


class ItemStatus(StrEnum):
    """Where one branch of a batch ended."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    NOT_STARTED = "NOT_STARTED"


_LETTER = {ItemStatus.SUCCEEDED: "S", ItemStatus.FAILED: "F", ItemStatus.CANCELLED: "C",
           ItemStatus.NOT_STARTED: "N"}
_STATUS = {letter: status for status, letter in _LETTER.items()}


@dataclass(frozen=True, slots=True)
class BatchItem(Generic[T]):
    """One branch's outcome: its index, status, and value or error."""

    index: int
    status: ItemStatus
    result: T | None = None
    error: ChildContextFailed | None = None


@dataclass(frozen=True, slots=True)
class BatchResult(Generic[T]):
    """Every branch's outcome in index order, and why the batch completed."""

    items: tuple[BatchItem[T], ...]
    completion_reason: CompletionReason

    def results(self) -> list[T | None]:
        """One entry per branch in index order: its value, or None where it did not succeed."""
        return [item.result if item.status is ItemStatus.SUCCEEDED else None
                for item in self.items]

    def get_results(self) -> list[T]:
        """The values of the branches that succeeded, in index order."""
        return [item.result for item in self.items  # type: ignore[misc]
                if item.status is ItemStatus.SUCCEEDED]

    def succeeded(self) -> list[BatchItem[T]]:
        """The branches that succeeded."""
        return self._with(ItemStatus.SUCCEEDED)

    def failed(self) -> list[BatchItem[T]]:
        """The branches that failed."""
        return self._with(ItemStatus.FAILED)

    def errors(self) -> list[ChildContextFailed]:
        """The errors of the branches that failed, in index order."""
        return [item.error for item in self.items if item.error is not None]

    @property
    def has_failure(self) -> bool:
        """True when at least one branch failed."""
        return any(item.status is ItemStatus.FAILED for item in self.items)

    def throw_if_error(self) -> None:
        """Raise the first failed branch's error (a ChildContextFailed), if any."""
        for item in self.items:
            if item.error is not None:
                raise item.error

    @property
    def success_count(self) -> int:
        """How many branches succeeded."""
        return len(self.succeeded())

    @property
    def failure_count(self) -> int:
        """How many branches failed."""
        return len(self.failed())

    @property
    def total_count(self) -> int:
        """How many branches the batch had."""
        return len(self.items)

    def _with(self, status: ItemStatus) -> list[BatchItem[T]]:
        return [item for item in self.items if item.status is status]


@dataclass(frozen=True, slots=True)
class CompletionPolicy:
    """When a batch is done. With nothing set, every branch must succeed and the first failure
    completes the batch (fail-fast). ``min_successful`` alone tolerates failures until that
    many successes are out of reach."""

    min_successful: int | None = None
    tolerated_failure_count: int | None = None
    tolerated_failure_percentage: float | None = None

    def check(self, what: str) -> None:
        """Raise ValidationError naming ``what`` (e.g. 'ctx.map "resize"') for a bad setting."""
        problems = []
        if self.min_successful is not None and not _is_int(self.min_successful, 1):
            problems.append(f"min_successful must be an integer >= 1 (got {self.min_successful!r})")
        if self.tolerated_failure_count is not None \
                and not _is_int(self.tolerated_failure_count, 0):
            problems.append("tolerated_failure_count must be an integer >= 0 "
                            f"(got {self.tolerated_failure_count!r})")
        pct = self.tolerated_failure_percentage
        if pct is not None and (isinstance(pct, bool) or not isinstance(pct, int | float)
                                or not 0 <= pct <= 100):
            problems.append(f"tolerated_failure_percentage must be between 0 and 100 (got {pct!r})")
        if problems:
            raise ValidationError(
                f"Invalid completion policy for {what}: " + "; ".join(problems) + ".",
                what=what, problems=problems,
            )

    def reason(self, succeeded: int, failed: int, total: int) -> CompletionReason | None:
        """Whether the batch is complete after these counts, and why (None: not yet)."""
        if self._failures_exceeded(succeeded, failed, total):
            return CompletionReason.FAILURE_TOLERANCE_EXCEEDED
        if self.min_successful is not None and succeeded >= self.min_successful:
            return CompletionReason.MIN_SUCCESSFUL_REACHED
        if succeeded + failed >= total:
            return CompletionReason.ALL_COMPLETED
        return None

    def _failures_exceeded(self, succeeded: int, failed: int, total: int) -> bool:
        count, pct = self.tolerated_failure_count, self.tolerated_failure_percentage
        if count is not None and failed > count:
            return True
        if pct is not None and total and failed * 100 > pct * total:
            return True
        if self.min_successful is not None:
            return succeeded + (total - succeeded - failed) < self.min_successful
        return count is None and pct is None and failed > 0


def check_max_concurrency(value: int | None, what: str) -> int | None:
    """``value`` when it is None or an integer >= 1, else a ValidationError naming ``what``."""
    if value is None or _is_int(value, 1):
        return value
    raise ValidationError(
        f"Invalid max_concurrency for {what}: it must be an integer >= 1 or None (no limit), "
        f"got {value!r}.",
        what=what, max_concurrency=value,
    )


def _is_int(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def encode_summary(reason: CompletionReason, statuses: list[ItemStatus]) -> str:
    """The recorded form of a batch's outcome."""
    letters = "".join(_LETTER[status] for status in statuses)
    return json.dumps({"completion_reason": reason.value, "statuses": letters},
                      separators=(",", ":"))


def decode_summary(text: str | None) -> tuple[CompletionReason, list[ItemStatus]]:
    """A recorded batch outcome read back."""
    data = json.loads(text or "{}")
    return (CompletionReason(data["completion_reason"]),
            [_STATUS[letter] for letter in data["statuses"]])

"""Retry policies: how many attempts, how long between them, which errors are worth another try."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

from redwood.errors import (
    NonDeterminism,
    PayloadTooLarge,
    SerializationError,
    ValidationError,
)

# Errors that no number of attempts can fix; they fail the step at once.
_NEVER_RETRIED: tuple[type[BaseException], ...] = (
    NonDeterminism,
    PayloadTooLarge,
    SerializationError,
    ValidationError,
)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """Retry after ``delay`` seconds, or give up."""

    retry: bool
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a failed step is tried again: attempts, back-off, jitter, and which errors qualify."""

    max_attempts: int = 6
    initial_delay: float = 5.0
    backoff_rate: float = 2.0
    max_delay: float = 60.0
    jitter: float = 1.0
    growth: Literal["exponential", "linear"] = "exponential"
    retryable: tuple[type[BaseException], ...] = (Exception,)
    non_retryable: tuple[type[BaseException], ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if self.max_attempts < 1:
            problems.append(f"max_attempts must be >= 1 (got {self.max_attempts})")
        # Written as "not (x >= bound)" so that NaN, which compares False, is refused too.
        if not (math.isfinite(self.initial_delay) and self.initial_delay >= 0):
            problems.append(
                f"initial_delay must be a finite number of seconds >= 0 (got {self.initial_delay})"
            )
        if not (math.isfinite(self.backoff_rate) and self.backoff_rate >= 1):
            problems.append(f"backoff_rate must be a finite number >= 1 (got {self.backoff_rate})")
        if not (math.isfinite(self.max_delay) and self.max_delay >= self.initial_delay):
            problems.append(
                f"max_delay ({self.max_delay}) must be a finite number of seconds >= "
                f"initial_delay ({self.initial_delay})"
            )
        if not 0 <= self.jitter <= 1:
            problems.append(f"jitter must be between 0 and 1 (got {self.jitter})")
        if self.growth not in ("exponential", "linear"):
            problems.append(f"growth must be 'exponential' or 'linear' (got {self.growth!r})")
        for label, types in (("retryable", self.retryable), ("non_retryable", self.non_retryable)):
            if not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
                problems.append(f"{label} must be a tuple of exception classes (got {types!r})")
        if problems:
            raise ValidationError(
                "Invalid RetryPolicy: " + "; ".join(problems)
                + ". Fix the arguments or start from a preset such as RetryPolicy.default().",
                problems=problems,
            )

    # --- presets ----------------------------------------------------------------------------

    @classmethod
    def none(cls) -> RetryPolicy:
        """One attempt: the first failure is final."""
        return cls(max_attempts=1, initial_delay=0, max_delay=0, jitter=0)

    @classmethod
    def default(cls) -> RetryPolicy:
        """Six attempts, 5 s doubling up to 60 s, full jitter."""
        return cls()

    @classmethod
    def transient(cls) -> RetryPolicy:
        """Three quick attempts for blips: 1 s doubling, half jitter."""
        return cls(max_attempts=3, initial_delay=1.0, backoff_rate=2.0, max_delay=4.0, jitter=0.5)

    @classmethod
    def critical(cls) -> RetryPolicy:
        """Ten patient attempts: 1 s growing 1.5x up to 5 min, full jitter."""
        return cls(max_attempts=10, initial_delay=1.0, backoff_rate=1.5, max_delay=300.0)

    @classmethod
    def fixed(cls, delay: float, max_attempts: int = 3) -> RetryPolicy:
        """The same ``delay`` between every attempt, no jitter."""
        return cls(max_attempts=max_attempts, initial_delay=delay, backoff_rate=1.0,
                   max_delay=delay, jitter=0.0)

    @classmethod
    def linear(cls, delay: float, max_attempts: int = 5, max_delay: float = 300.0) -> RetryPolicy:
        """``delay``, 2x ``delay``, 3x ``delay``... capped at ``max_delay``, no jitter."""
        return cls(max_attempts=max_attempts, initial_delay=delay, max_delay=max(max_delay, delay),
                   jitter=0.0, growth="linear")

    # --- decisions --------------------------------------------------------------------------

    def is_retryable(self, error: BaseException) -> bool:
        """Whether ``error`` qualifies for another attempt under this policy."""
        if isinstance(error, (*_NEVER_RETRIED, *self.non_retryable)):
            return False
        return isinstance(error, self.retryable)

    def delay_before(self, attempt: int) -> float:
        """The un-jittered pause before ``attempt`` (attempt 2 is the first retry)."""
        n = attempt - 1
        if self.growth == "linear":
            base = self.initial_delay * n
        else:
            base = self.initial_delay * self.backoff_rate ** (n - 1)
        return min(self.max_delay, base)

    def decide(self, attempt: int, error: BaseException) -> RetryDecision:
        """After ``attempt`` failed with ``error``: retry (and when), or give up."""
        if attempt >= self.max_attempts or not self.is_retryable(error):
            return RetryDecision(retry=False)
        base = self.delay_before(attempt + 1)
        jittered = base - base * self.jitter * random.random()
        return RetryDecision(retry=True, delay=jittered)


DEFAULT_RETRY = RetryPolicy.default()
NO_RETRY = RetryPolicy.none()

"""Redwood's errors, organised by consequence: misuse, terminal failures, and client-side outcomes.

Every error keeps its identifiers as attributes and survives pickling (``__reduce__`` replays the
constructor with the same arguments).
"""

from __future__ import annotations

from typing import Any


class RedwoodError(Exception):
    """Base class of every error Redwood raises on purpose."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self._fields = fields
        for key, value in fields.items():
            setattr(self, key, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self._fields))


def _rebuild(cls: type[RedwoodError], message: str, fields: dict[str, Any]) -> RedwoodError:
    error = cls.__new__(cls)
    RedwoodError.__init__(error, message, **fields)
    return error


# --- misuse: the caller must change something; retrying changes nothing -------------------------


class ValidationError(RedwoodError, ValueError):
    """An argument broke a rule (a duration out of range, an invalid retry policy...)."""


class UnknownFunction(RedwoodError, LookupError):
    """No durable function is registered under the name."""


class UnknownExecution(RedwoodError, LookupError):
    """No execution has the id."""


class SerializationError(RedwoodError, TypeError):
    """A value cannot be turned into the stored form (or back)."""


class PayloadTooLarge(RedwoodError, ValueError):
    """A serialized value is above the configured size limit."""


class ExecutionConflict(RedwoodError):
    """The request does not fit the execution's current state (e.g. cancelling a finished one)."""


class UnknownCallback(RedwoodError, LookupError):
    """No callback has the id (never created by any execution, or mistyped)."""


class CallbackAlreadyCompleted(ExecutionConflict):
    """The callback already has its outcome (succeeded, failed or timed out); answers count once."""


# --- terminal failures inside an execution ------------------------------------------------------


class NonDeterminism(RedwoodError):
    """Replayed code called a different operation than the journal recorded at that position."""


class OperationFailed(RedwoodError):
    """An operation failed for good; re-raised the same on replay. ``error_type``,
    ``error_message`` and ``error_mro`` describe the error that failed it."""

    def matches(self, error_type: type[BaseException]) -> bool:
        """True when the original error was an ``error_type`` (checked against its recorded MRO)."""
        wanted = f"{error_type.__module__}.{error_type.__qualname__}"
        return wanted in self._fields.get("error_mro", ())


class StepFailed(OperationFailed):
    """A step failed for good (retries exhausted or not retryable); re-raised the same on replay."""


class ChildContextFailed(OperationFailed):
    """Code in a child context (or a map/parallel branch) raised; the error it raised is kept."""


class InvokeFailed(OperationFailed):
    """An invoked child execution ended FAILED, TIMED_OUT or STOPPED (``status`` tells which)."""


class CompensationFailed(OperationFailed):
    """A saga's compensation failed for good; the error that started the saga is kept too."""


class StepTimedOut(RedwoodError, TimeoutError):
    """A step attempt ran longer than its ``timeout``; the attempt fails and may be retried."""


class ExecutionTimedOut(RedwoodError, TimeoutError):
    """The execution ran past its timeout (counted from its start, across suspensions)."""


class StepInterrupted(RedwoodError):
    """An at-most-once step was found started but unfinished: its attempt counts as failed."""


class CallbackFailed(RedwoodError):
    """The outside world reported failure through ``Client.callback_failure``."""


class CallbackTimedOut(RedwoodError, TimeoutError):
    """No answer came before the callback's timeout."""


class CallbackHeartbeatTimedOut(CallbackTimedOut):
    """No heartbeat came within the callback's heartbeat timeout (a kind of CallbackTimedOut)."""


class EventTimedOut(RedwoodError, TimeoutError):
    """No event with the awaited name arrived before the wait's timeout."""


class ConditionNotMet(RedwoodError):
    """``wait_for_condition`` used all its checks and the condition was still not met."""


class LeaseLost(RedwoodError):
    """A write came with a stale lease token: another worker owns the execution now."""


# --- outcomes seen by a client ------------------------------------------------------------------


class ExecutionFailed(RedwoodError):
    """The execution ended in FAILED, TIMED_OUT or STOPPED; ``status`` and the error tell which."""


class ResultTimeout(RedwoodError, TimeoutError):
    """The execution did not finish within the time the caller was willing to wait."""

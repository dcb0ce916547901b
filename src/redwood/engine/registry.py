"""Durable functions by name, so a worker in another process can find them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from redwood.durations import Duration, seconds
from redwood.errors import UnknownFunction, ValidationError
from redwood.model import Execution
from redwood.retry import RetryPolicy
from redwood.sdk.run import InvocationOutcome

if TYPE_CHECKING:
    # Only for the Runner type; the invocation module imports this one.
    from redwood.engine.invocation import Invocation

I = TypeVar("I")  # noqa: E741 - the conventional name for a function's input type
R = TypeVar("R")

# Runs one invocation of a function written for another SDK (e.g. redwood.aws): it talks to the
# engine through the invocation (checkpoint, get_state) and returns how the invocation ended.
Runner = Callable[["Invocation", Execution], InvocationOutcome]


@dataclass(frozen=True, slots=True)
class DurableFunction(Generic[I, R]):
    """A registered durable function: its name, the code, and its defaults."""

    name: str
    fn: Callable[..., Any]
    is_async: bool
    retry: RetryPolicy | None = None
    timeout: float | None = None
    runner: Runner | None = None


class Registry:
    """The durable functions of one app."""

    def __init__(self) -> None:
        self._functions: dict[str, DurableFunction[Any, Any]] = {}

    def add(
        self, fn: Callable[..., Any], name: str | None, retry: RetryPolicy | None,
        timeout: Duration | None = None, runner: Runner | None = None,
    ) -> DurableFunction[Any, Any]:
        """Register ``fn``; names must be unique within the app. With a ``runner``, ``fn`` is
        code for another SDK and the runner carries out its invocations."""
        if not callable(fn):
            raise ValidationError(f"A durable function must be callable, got {fn!r}.")
        function_name = name or getattr(fn, "__name__", None)
        if not function_name:
            raise ValidationError(f"Cannot name durable function {fn!r}: pass name='...'.")
        parameters = list(inspect.signature(fn).parameters.values())
        if runner is None and (not parameters or len(parameters) > 2):
            raise ValidationError(
                f'Durable function "{function_name}" must take the context first and at most '
                f"one input after it, e.g. `def {function_name}(ctx, order): ...`; it takes "
                f"{len(parameters)} parameter(s).",
                function=function_name,
            )
        existing = self._functions.get(function_name)
        if existing is not None and existing.fn is not fn:
            raise ValidationError(
                f'A durable function named "{function_name}" is already registered '
                f"({existing.fn!r}). Give one of them another name with name='...'.",
                function=function_name,
            )
        limit = None if timeout is None else seconds(
            timeout, f'the timeout of durable function "{function_name}"')
        durable: DurableFunction[Any, Any] = DurableFunction(
            function_name, fn, runner is None and inspect.iscoroutinefunction(fn), retry, limit,
            runner,
        )
        self._functions[function_name] = durable
        return durable

    def get(self, name: str) -> DurableFunction[Any, Any]:
        """The function registered as ``name``."""
        try:
            return self._functions[name]
        except KeyError:
            known = ", ".join(sorted(self._functions)) or "none"
            raise UnknownFunction(
                f'No durable function named "{name}" is registered (known: {known}). '
                "Register it with @app.function, and run workers with the same app.",
                function=name,
            ) from None

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._functions)

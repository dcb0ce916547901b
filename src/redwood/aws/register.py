"""Registering unmodified AWS ``@durable_execution`` handlers with a Redwood app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redwood.app import App
from redwood.aws.runner import AwsRunner, Handler, InvocationRetry
from redwood.aws.service import ServiceLimits
from redwood.durations import Duration
from redwood.engine.registry import DurableFunction, Registry
from redwood.errors import UnknownFunction, ValidationError


def register(
    app: App, handler: Handler, *, name: str | None = None, timeout: Duration | None = None,
    page_size: int = 1000, invocation_retry: InvocationRetry | None = None,
) -> DurableFunction[Any, Any]:
    """Register ``handler`` (decorated with the AWS SDK's ``@durable_execution``) as a durable
    function of ``app``; Redwood workers run it as the AWS service would.

    ``name`` is what ``app.start`` and chained invokes call it (default: the handler's name);
    ``timeout`` is the execution timeout (AWS ExecutionTimeout); ``page_size`` is how many
    operations one page of the execution state holds.
    """
    if not callable(handler):
        raise ValidationError(
            f"redwood.aws.register: the handler must be the function decorated with "
            f"@durable_execution, got {handler!r}.", handler=repr(handler))
    if not 1 <= page_size <= 1000:
        raise ValidationError(
            f"redwood.aws.register: page_size must be 1 to 1000 (the AWS API's limit), got "
            f"{page_size}.", page_size=page_size)
    limits = ServiceLimits(page_size=page_size, max_payload_bytes=app.engine.codec.max_bytes)
    runner = AwsRunner(handler, app.store, function_resolver(app.registry), limits,
                       invocation_retry or InvocationRetry())
    return app.registry.add(handler, name, None, timeout, runner=runner)


def function_resolver(registry: Registry) -> Callable[[str], str]:
    """Maps an invoke target as AWS code names it (a name, ``name:alias`` or a function ARN)
    to the name registered with the app (unknown names stay as given: the invoke then fails)."""

    def resolve(target: str) -> str:
        candidates = [target]
        if ":function:" in target:
            candidates.append(target.split(":function:", 1)[1].split(":", 1)[0])
        candidates.append(target.split(":", 1)[0])
        for candidate in candidates:
            try:
                return registry.get(candidate).name
            except UnknownFunction:
                continue
        return target

    return resolve

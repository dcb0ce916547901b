"""Run code written for AWS Lambda durable functions on Redwood, unchanged.

``register(app, handler)`` makes an ``@durable_execution`` handler a durable function of the
app: Redwood workers run it in process, through the SDK's service-client interface implemented
over Redwood's engine. ``redwood.aws.http`` speaks the Lambda durable execution REST API, and
``redwood.aws.history`` renders histories in the AWS shape.
"""

from __future__ import annotations

from redwood.aws.arn import execution_arn
from redwood.aws.register import register
from redwood.aws.runner import InvocationRetry, LambdaContext

__all__ = ["InvocationRetry", "LambdaContext", "execution_arn", "register"]

"""A Lambda-Invoke-compatible host for the wire tests: runs unmodified AWS handlers in its own
process. Its handlers reach Redwood through the SDK's own boto3 client, pointed at Redwood by
AWS_ENDPOINT_URL_LAMBDA. Prints its port, then serves until killed."""

from __future__ import annotations

import json
import socket
import sys
from typing import Any

import uvicorn
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.types import WaitForCallbackContext
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from redwood.aws import LambdaContext


@durable_execution
def orders(event: Any, context: DurableContext) -> dict[str, Any]:
    total = context.step(lambda _: sum(item["price"] for item in event["items"]), name="total")

    def request_approval(callback_id: str, ctx: WaitForCallbackContext) -> None:
        ctx.logger.info("approval requested: %s", callback_id)

    decision = context.wait_for_callback(request_approval, name="approval")
    shipped = context.step(lambda _: f"shipped {event['order']}", name="ship")
    return {"total": total, "decision": decision, "status": shipped}


HANDLERS = {"orders": orders}


async def invoke(request: Request) -> JSONResponse:
    handler = HANDLERS[request.path_params["function"]]
    event = json.loads(await request.body())
    context = LambdaContext(function_name=request.path_params["function"])
    return JSONResponse(await run_in_threadpool(handler, event, context))


def main() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    app = Starlette(routes=[Route("/2015-03-31/functions/{function}/invocations", invoke,
                                  methods=["POST"])])
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())

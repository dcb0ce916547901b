"""Names in the AWS shape: durable execution ARNs and checkpoint tokens for Redwood executions.

An ARN's last segment is the id of the execution's EXECUTION operation (the AWS SDK reads it
there) and carries the Redwood execution id, base64url-encoded, so any id round-trips. A
checkpoint token names the invocation (lease token) and the checkpoint sequence within it.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from redwood.errors import ValidationError

REGION = "us-east-1"
ACCOUNT = "000000000000"
VERSION = "$LATEST"

_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_ARN = re.compile(
    r"arn:[^:]*:lambda:[^:]*:[^:]*:function:(?P<function>[^:/]+):[^:/]+"
    r"/durable-execution/(?P<name>[^/]+)/(?P<key>[^/]+)"
)


def execution_key(execution_id: str) -> str:
    """The last ARN segment (and EXECUTION operation id) for ``execution_id``."""
    return base64.urlsafe_b64encode(execution_id.encode()).decode().rstrip("=")


def execution_arn(execution_id: str, function: str) -> str:
    """The durable execution ARN under which AWS code sees the execution."""
    name = execution_id if _SEGMENT.fullmatch(execution_id) else execution_key(execution_id)[:64]
    function_segment = _UNSAFE.sub("-", function)[:64] or "function"
    return (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_segment}:{VERSION}"
            f"/durable-execution/{name}/{execution_key(execution_id)}")


def function_arn(function: str) -> str:
    """The function ARN AWS tools expect next to an execution ARN."""
    function_segment = _UNSAFE.sub("-", function)[:64] or "function"
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_segment}:{VERSION}"


def execution_id(arn: str) -> str:
    """The Redwood execution id an ARN names (ValidationError for anything else)."""
    match = _ARN.fullmatch(arn)
    if match is not None:
        key = match.group("key")
        try:
            return base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            pass
    raise ValidationError(
        f"Invalid durable execution ARN {arn!r}: expected arn:aws:lambda:<region>:<account>:"
        "function:<name>:<version>/durable-execution/<name>/<id> as Redwood hands them out. "
        "Pass the DurableExecutionArn of the invocation unchanged.",
        arn=arn,
    )


@dataclass(frozen=True, slots=True)
class Token:
    """A checkpoint token: which invocation (lease token) and which checkpoint in it."""

    lease_token: int
    sequence: int

    def encode(self) -> str:
        """The token as handed to the SDK (base64, as the AWS API's pattern requires)."""
        return base64.b64encode(f"{self.lease_token}.{self.sequence}".encode()).decode()

    @classmethod
    def decode(cls, text: str) -> Token:
        """Read a token back (ValidationError when it is not one of ours)."""
        try:
            lease, sequence = base64.b64decode(text, validate=True).decode().split(".")
            return cls(int(lease), int(sequence))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise ValidationError(
                f"Invalid checkpoint token {text!r}: pass the CheckpointToken of the invocation "
                "input, or of the last checkpoint response, unchanged.",
                token=text,
            ) from None

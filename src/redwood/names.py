"""Names and ids by which the outside world reaches a waiting execution, checked the same way in
the SDK (``ctx.wait_for_event``) and in the client (``send_event``, ``callback_success``...)."""

from __future__ import annotations

import secrets

from redwood.errors import ValidationError

MAX_LENGTH = 256


def event_name(value: object, what: str) -> str:
    """``value`` as an event name: 1 to 256 printable characters; ``what`` names it in the error."""
    if isinstance(value, str) and 0 < len(value) <= MAX_LENGTH and value.isprintable():
        return value
    raise ValidationError(
        f"{what} must be 1 to {MAX_LENGTH} printable characters, got {value!r}. Use a short "
        "name both sides agree on, e.g. 'approval'.",
        what=what, value=repr(value),
    )


def callback_id(value: object) -> str:
    """``value`` as a callback id: the non-empty text ``Callback.callback_id`` handed out."""
    if isinstance(value, str) and 0 < len(value) <= MAX_LENGTH and value.isprintable() \
            and not any(c.isspace() for c in value):
        return value
    raise ValidationError(
        f"Invalid callback id {value!r}: a callback id is the text of Callback.callback_id "
        f"(1 to {MAX_LENGTH} printable characters, no spaces). Pass it on unchanged.",
        callback_id=repr(value),
    )


def new_callback_id() -> str:
    """A fresh, unguessable callback id: 192 random bits as letters and digits only, so it fits
    any URL and never starts with "-" (a command line would take it for an option)."""
    return secrets.token_hex(24)

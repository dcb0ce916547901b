"""How values are stored: JSON, with pydantic models and dataclasses rebuilt from type hints."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import typing
from collections.abc import Callable
from typing import Any, Protocol

import pydantic
import pydantic_core

from redwood.errors import PayloadTooLarge, SerializationError

_PLAIN = (type(None), bool, int, float, str)


class Serde(Protocol):
    """Turns a value into stored text and back; ``hint`` is the declared type, or None."""

    def encode(self, value: Any) -> str: ...

    def decode(self, text: str, hint: Any) -> Any: ...


def _to_jsonable(value: Any) -> Any:
    return pydantic_core.to_jsonable_python(value)


@functools.lru_cache(maxsize=1024)
def _adapter(hint: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(hint)


def _needs_validation(hint: Any) -> bool:
    if hint is None or hint is Any or hint is object or hint in _PLAIN:
        return False
    return not (hint in (dict, list) or isinstance(hint, typing.TypeVar))


class JsonSerde:
    """JSON text; anything pydantic can dump is accepted, and the type hint rebuilds it on read."""

    # One encoder for every call: json.dumps with options would build a new one each time.
    _encoder = json.JSONEncoder(default=_to_jsonable, separators=(",", ":"), allow_nan=False)

    def encode(self, value: Any) -> str:
        # The commonest step results, spelled as the encoder would spell them: its general path
        # costs several times more, and this runs once per step.
        kind = type(value)
        if kind is int:
            return repr(value)
        if value is None:
            return "null"
        if kind is bool:
            return "true" if value else "false"
        if isinstance(value, pydantic.BaseModel):
            return value.model_dump_json()
        return self._encoder.encode(value)

    def decode(self, text: str, hint: Any) -> Any:
        if _needs_validation(hint):
            return _adapter(hint).validate_json(text)
        return json.loads(text)


DEFAULT_SERDE: Serde = JsonSerde()


@dataclasses.dataclass(frozen=True, slots=True)
class Codec:
    """A serde with the payload size limit, raising errors that name what was being stored."""

    serde: Serde = DEFAULT_SERDE
    max_bytes: int = 1 << 20

    def encode(self, value: Any, what: str) -> str:
        """Encode ``value`` (described by ``what``, e.g. 'the result of step "charge"')."""
        try:
            text = self.serde.encode(value)
        except (TypeError, ValueError, pydantic_core.PydanticSerializationError) as error:
            kind = type(value).__qualname__
            raise SerializationError(
                f"Cannot serialize {what}: a value of type {kind!r} is not JSON-serializable "
                f"({error}). Return plain data, a pydantic model or a dataclass, or pass "
                "serde=... with a serializer for this type.",
                what=what, value_type=kind,
            ) from None
        size = len(text.encode()) if not text.isascii() else len(text)
        if size > self.max_bytes:
            raise PayloadTooLarge(
                f"Cannot store {what}: it is {size} bytes serialized, above the limit of "
                f"{self.max_bytes} bytes. Store large data elsewhere and keep a reference, or "
                "raise App(max_payload_bytes=...).",
                what=what, size=size, limit=self.max_bytes,
            )
        return text

    def read_back(self, value: Any, text: str, hint: Any, what: str) -> Any:
        """``decode(text, hint, what)`` for ``text`` just encoded from ``value``."""
        # A plain scalar under the default JSON serde, read without validation, reads back as
        # an equal value of the same type (floats round-trip exactly through repr): no need to
        # parse what was just written, once per step.
        if type(value) in _PLAIN and type(self.serde) is JsonSerde and not _needs_validation(hint):
            return value
        return self.decode(text, hint, what)

    def decode(self, text: str | None, hint: Any, what: str) -> Any:
        """Decode stored text back into the declared type."""
        if text is None:
            return None
        try:
            return self.serde.decode(text, hint)
        except (ValueError, TypeError, pydantic.ValidationError) as error:
            raise SerializationError(
                f"Cannot read back {what} as {hint!r}: {error}. The stored value no longer "
                "fits the declared type; keep the type compatible or version the step name.",
                what=what,
            ) from None


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    # inspect.signature sees through partials, bound methods and callable objects, which a
    # function's __code__ and get_type_hints do not.
    try:
        return inspect.signature(fn, eval_str=True)
    except Exception:  # an annotation that cannot be resolved: no hints rather than no call
        try:
            return inspect.signature(fn)
        except (TypeError, ValueError):
            return None


def _hint(annotation: Any) -> Any:
    return None if annotation is inspect.Parameter.empty or isinstance(annotation, str) \
        else annotation


@functools.lru_cache(maxsize=4096)
def return_hint(fn: Callable[..., Any]) -> Any:
    """The declared return type of ``fn`` (None when it has none or it cannot be resolved)."""
    signature = _signature(fn)
    return None if signature is None else _hint(signature.return_annotation)


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@functools.lru_cache(maxsize=4096)
def parameter_hints(fn: Callable[..., Any]) -> tuple[Any, ...]:
    """The declared types of ``fn``'s positional parameters, in order (None where undeclared)."""
    signature = _signature(fn)
    if signature is None:
        return ()
    return tuple(_hint(p.annotation) for p in signature.parameters.values()
                 if p.kind in _POSITIONAL)

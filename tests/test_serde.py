"""Values are stored as JSON and rebuilt from type hints: pydantic models, dataclasses, and more."""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic
import pytest

from redwood import (
    App,
    AsyncDurableContext,
    DurableContext,
    JsonSerde,
    ManualClock,
    PayloadTooLarge,
    SerializationError,
)
from redwood.serde import Codec


class Item(pydantic.BaseModel):
    sku: str
    price: Decimal


class Cart(pydantic.BaseModel):
    owner: str
    items: list[Item]


@dataclasses.dataclass(frozen=True)
class Receipt:
    cart_owner: str
    total: float
    paid_at: datetime


def _total(cart: Cart) -> Receipt:
    return Receipt(cart.owner, float(sum(i.price for i in cart.items)),
                   datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))


def _items(cart: Cart) -> list[Item]:
    return list(reversed(cart.items))


CART = Cart(owner="ada", items=[Item(sku="a", price=Decimal("1.25")),
                                Item(sku="b", price=Decimal("2.50"))])


def test_models_and_dataclasses_round_trip_through_steps_input_and_result(
    any_app: App, clock: ManualClock
) -> None:
    seen: list[tuple[Any, ...]] = []

    @any_app.function
    def checkout(ctx: DurableContext, cart: Cart) -> Receipt:
        receipt = ctx.step(_total, cart)
        items = ctx.step(_items, cart)
        seen.append((cart, receipt, items))
        ctx.wait(1)
        return receipt

    handle = any_app.start(checkout, CART, id="cart")
    worker = any_app.worker()
    worker.drain()
    clock.advance(1)
    worker.drain()
    result = handle.result(timeout=5)
    assert isinstance(result, Receipt)
    assert result == Receipt("ada", 3.75, datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert len(seen) == 2 and seen[0] == seen[1]  # replay rebuilds the same typed values
    cart, receipt, items = seen[0]
    assert cart == CART and isinstance(cart, Cart)
    assert receipt == result
    assert items == list(reversed(CART.items)) and all(isinstance(i, Item) for i in items)


def test_input_given_as_plain_data_is_validated_into_the_declared_model(any_app: App) -> None:
    @any_app.function
    def owner(ctx: DurableContext, cart: Cart) -> str:
        assert isinstance(cart, Cart)
        return cart.owner

    handle = any_app.start(owner, {"owner": "bob", "items": []}, id="plain")
    any_app.worker().drain()
    assert handle.result(timeout=5) == "bob"


def test_async_functions_rebuild_typed_values_too(any_app: App) -> None:
    async def total(cart: Cart) -> Receipt:
        return _total(cart)

    @any_app.function
    async def checkout(ctx: AsyncDurableContext, cart: Cart) -> Receipt:
        return await ctx.step(total, cart)

    handle = any_app.start(checkout, CART, id="async-cart")
    any_app.worker().drain()
    assert handle.result(timeout=5) == _total(CART)


def test_a_step_can_bring_its_own_serde(any_app: App) -> None:
    class Upper(JsonSerde):
        def encode(self, value: Any) -> str:
            return json.dumps(str(value).upper())

    def word() -> str:
        return "quiet"

    @any_app.function
    def f(ctx: DurableContext) -> str:
        return ctx.step(word, serde=Upper())

    handle = any_app.start(f, id="serde")
    any_app.worker().drain()
    assert handle.result(timeout=5) == "QUIET"
    assert handle.operations()[0].result == '"QUIET"'


def test_codec_names_what_it_could_not_serialize() -> None:
    codec = Codec()
    with pytest.raises(SerializationError) as raised:
        codec.encode({"x": object()}, 'the result of step "s"')
    assert raised.value.what == 'the result of step "s"'
    assert raised.value.value_type == "dict"
    assert 'Cannot serialize the result of step "s"' in str(raised.value)
    with pytest.raises(SerializationError):
        codec.encode(float("nan"), "a NaN")


def test_codec_limits_the_serialized_size_in_bytes() -> None:
    codec = Codec(max_bytes=10)
    assert codec.encode("abcdefgh", "fits") == '"abcdefgh"'
    with pytest.raises(PayloadTooLarge) as raised:
        codec.encode("abcdefghi", "nine letters")  # 11 bytes with the quotes
    assert (raised.value.size, raised.value.limit) == (11, 10)
    assert "nine letters" in str(raised.value)


def test_codec_reports_a_stored_value_that_no_longer_fits_its_type() -> None:
    codec = Codec()
    with pytest.raises(SerializationError, match="Cannot read back the result"):
        codec.decode('{"owner": 3}', Cart, "the result")
    assert codec.decode(None, Cart, "nothing") is None


@pytest.mark.parametrize("value", [0, -7, 10**30, True, False, None, 1.5, -0.0, 1e300, "é\n\"", [1, 2]])
@pytest.mark.parametrize("hint", [None, Any, int, float, str])
def test_a_value_read_back_after_encoding_is_what_a_replay_decodes(value: Any, hint: Any) -> None:
    codec = Codec()
    text = codec.encode(value, "v")
    assert text == json.dumps(value, separators=(",", ":"), allow_nan=False)
    fresh = codec.read_back(value, text, hint, "v")
    replayed = codec.decode(text, hint, "v")
    assert fresh == replayed and type(fresh) is type(replayed)


class _Pricer:
    """A durable function that is a callable object, not a plain function."""

    def __call__(self, ctx: DurableContext, cart: Cart) -> Receipt:
        return ctx.step(_total, cart)


def _priced_with(discount: int, ctx: DurableContext, cart: Cart) -> Receipt:
    receipt = ctx.step(_total, cart)
    return dataclasses.replace(receipt, total=receipt.total - discount)


def test_callable_objects_and_partials_get_their_typed_input(any_app: App) -> None:
    pricer = any_app.function(_Pricer(), name="pricer")  # type: ignore[call-overload]
    discounted = any_app.function(functools.partial(_priced_with, 1), name="discounted")
    first = any_app.start(pricer, CART, id="object")
    second = any_app.start(discounted, CART.model_dump(), id="partial")
    any_app.worker().drain()
    assert first.result(timeout=5) == _total(CART)
    assert second.result(timeout=5) == dataclasses.replace(_total(CART), total=2.75)


def test_a_large_step_result_is_written_once_and_the_history_still_shows_it(
    app: App, db_path: Path
) -> None:
    # The journal holds a step's result; its StepSucceeded event refers to it rather than
    # holding a second copy (on SQLite as on PostgreSQL: see the store contract tests).
    text = 'say "hi" ' * 20_000

    @app.function
    def big(ctx: DurableContext) -> int:
        return len(ctx.step(lambda: text, name="make"))

    handle = app.start(big)
    app.worker().drain()
    assert handle.result(timeout=5) == len(text)
    [succeeded] = [e for e in handle.history() if e.type == "StepSucceeded"]
    assert json.loads(succeeded.details["result"]) == text
    assert succeeded.details["attempt"] == 1
    with closing(sqlite3.connect(db_path)) as raw:
        [(history_bytes,)] = raw.execute("SELECT sum(length(details)) FROM history")
        [(journal_bytes,)] = raw.execute("SELECT sum(length(result)) FROM operations")
    assert journal_bytes > len(text) > 100 * history_bytes

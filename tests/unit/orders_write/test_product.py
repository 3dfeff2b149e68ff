"""Product decisions: given these events, when this decision, then these events or this error."""

from decimal import Decimal

import pytest

from orders_write.aggregates import Product
from orders_write.errors import AlreadyExists, InsufficientStock, NotFound, StockLimitExceeded, UnknownProduct
from orders_write.events import (
    PriceChanged,
    ProductRegistered,
    StockReceived,
    StockReleased,
    StockReserved,
)
from orders_write.limits import MAX_STOCK


def product_with(*events: object) -> Product:
    product = Product.blank("mug")
    for event in events:
        product.apply(event)
    return product


REGISTERED = ProductRegistered(product_id="mug", name="Mug", description="", price=Decimal("9.99"))


def test_register_emits_stock_received_only_for_initial_stock() -> None:
    assert Product.blank("mug").register(name="Mug", description="", price=Decimal("9.99"), initial_stock=0) == [
        REGISTERED
    ]
    events = Product.blank("mug").register(name="Mug", description="", price=Decimal("9.99"), initial_stock=4)
    assert events == [REGISTERED, StockReceived(product_id="mug", quantity=4)]


def test_register_is_refused_for_an_existing_sku() -> None:
    with pytest.raises(AlreadyExists):
        product_with(REGISTERED).register(name="Other", description="", price=Decimal("1"), initial_stock=0)


def test_receive_and_change_price_need_a_registered_product() -> None:
    with pytest.raises(NotFound):
        Product.blank("mug").receive(quantity=1)
    with pytest.raises(NotFound):
        Product.blank("mug").change_price(price=Decimal("1.00"))


def test_price_change_records_old_and_new_price() -> None:
    events = product_with(REGISTERED).change_price(price=Decimal("12.50"))
    assert events == [PriceChanged(product_id="mug", old_price=Decimal("9.99"), new_price=Decimal("12.50"))]


def test_reserve_refuses_more_than_available() -> None:
    product = product_with(
        REGISTERED,
        StockReceived(product_id="mug", quantity=5),
        StockReserved(product_id="mug", order_id="o1", quantity=3),
    )
    assert product.available == 2
    with pytest.raises(InsufficientStock) as refused:
        product.reserve(order_id="o2", quantity=3)
    assert refused.value.extra == {"product_id": "mug", "available": 2, "requested": 3}
    assert product.reserve(order_id="o2", quantity=2) == [StockReserved(product_id="mug", order_id="o2", quantity=2)]


def test_reserve_on_an_unregistered_product_is_unknown_product() -> None:
    with pytest.raises(UnknownProduct):
        Product.blank("ghost").reserve(order_id="o1", quantity=1)


def test_shipping_takes_units_out_of_on_hand_and_reserved_keeping_available() -> None:
    product = product_with(
        REGISTERED,
        StockReceived(product_id="mug", quantity=5),
        StockReserved(product_id="mug", order_id="o1", quantity=3),
    )
    for event in product.ship(order_id="o1", quantity=3):
        product.apply(event)
    assert (product.on_hand, product.reserved, product.available) == (2, 0, 2)


def test_release_gives_reserved_units_back() -> None:
    product = product_with(
        REGISTERED,
        StockReceived(product_id="mug", quantity=5),
        StockReserved(product_id="mug", order_id="o1", quantity=3),
    )
    [released] = product.release(order_id="o1", quantity=3)
    assert released == StockReleased(product_id="mug", order_id="o1", quantity=3)
    product.apply(released)
    assert product.available == 5
    with pytest.raises(ValueError):
        product.release(order_id="o1", quantity=1)


def test_snapshot_round_trip_keeps_the_state() -> None:
    product = product_with(
        REGISTERED,
        StockReceived(product_id="mug", quantity=5),
        StockReserved(product_id="mug", order_id="o1", quantity=2),
    )
    restored = Product.from_snapshot("mug", product.snapshot_state(), 3)
    assert vars(restored) | {"version": 0} == vars(product) | {"version": 0}
    assert restored.version == 3


def test_receive_fills_on_hand_up_to_the_limit_and_refuses_past_it() -> None:
    """Bounded on hand bounds every stock figure of the catalogue view."""
    product = product_with(REGISTERED, StockReceived(product_id="mug", quantity=MAX_STOCK - 5))
    assert product.receive(quantity=5) == [StockReceived(product_id="mug", quantity=5)]
    with pytest.raises(StockLimitExceeded) as refused:
        product.receive(quantity=6)
    assert refused.value.code == "stock_limit_exceeded"
    assert refused.value.extra == {"product_id": "mug", "on_hand": MAX_STOCK - 5, "max_on_hand": MAX_STOCK}

"""The repository on a real database: one atomic append across streams, snapshots after commit."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import override_settings

from eventstore.aggregates.loading import load, load_many
from orders_write.aggregates import Product
from orders_write.bus import dispatch
from orders_write.commands import CreateOrder, Metadata, OrderLine, ReceiveStock, RegisterProduct
from orders_write.errors import InsufficientStock
from tests.support.api import event_count

pytestmark = pytest.mark.django_db(transaction=True)

STAFF = Metadata(user="staff", user_id=1, is_staff=True, correlation_id="req-1")


def snapshot_version(stream_id: str) -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM eventstore_snapshot WHERE stream_id = %s", [stream_id])
        row = cursor.fetchone()
    return row[0] if row else None


@override_settings(EVENTSTORE_SNAPSHOT_EVERY=10)
def test_a_snapshot_is_taken_when_a_command_crosses_the_interval_and_loads_the_same() -> None:
    dispatch(RegisterProduct(metadata=STAFF, sku="mug", name="Mug", price=Decimal("2.00"), initial_stock=1))
    for _ in range(9):
        dispatch(ReceiveStock(metadata=STAFF, sku="mug", quantity=1))
    assert snapshot_version("Product-mug") == 10
    dispatch(ReceiveStock(metadata=STAFF, sku="mug", quantity=5))
    loaded = load(Product, "mug")
    assert (loaded.version, loaded.on_hand) == (12, 15)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM eventstore_snapshot")
    assert vars(load(Product, "mug")) == vars(loaded)


def test_a_refused_line_leaves_every_stream_untouched() -> None:
    dispatch(RegisterProduct(metadata=STAFF, sku="a", name="A", price=Decimal("1.00"), initial_stock=5))
    dispatch(RegisterProduct(metadata=STAFF, sku="b", name="B", price=Decimal("1.00"), initial_stock=1))
    before = event_count()
    with pytest.raises(InsufficientStock):
        dispatch(
            CreateOrder(
                metadata=STAFF,
                customer_id="alice",
                shipping_address={},
                items=(OrderLine(product_id="a", quantity=2), OrderLine(product_id="b", quantity=2)),
            )
        )
    assert event_count() == before
    assert load(Product, "a").reserved == 0


@override_settings(EVENTSTORE_SNAPSHOT_EVERY=3)
def test_loading_several_products_at_once_equals_loading_each() -> None:
    for sku, stock in (("a", 1), ("b", 0)):
        dispatch(RegisterProduct(metadata=STAFF, sku=sku, name=sku, price=Decimal("1.00"), initial_stock=stock))
    for _ in range(4):
        dispatch(ReceiveStock(metadata=STAFF, sku="a", quantity=2))  # "a" gets a snapshot and a tail
    dispatch(
        CreateOrder(
            metadata=STAFF,
            customer_id="alice",
            shipping_address={},
            items=(OrderLine(product_id="a", quantity=3), OrderLine(product_id="a", quantity=1)),
        )
    )
    many = load_many(Product, ["a", "b", "ghost"])
    for sku in ("a", "b", "ghost"):
        assert vars(many[sku]) == vars(load(Product, sku))
    assert (many["a"].version, many["a"].on_hand, many["a"].reserved) == (7, 9, 4)
    assert many["ghost"].version == 0 and not many["ghost"].registered


@override_settings(EVENTSTORE_SNAPSHOT_EVERY=100)
def test_product_streams_are_snapshotted_sooner_than_the_global_interval() -> None:
    dispatch(RegisterProduct(metadata=STAFF, sku="hot", name="Hot", price=Decimal("1.00"), initial_stock=1))
    for _ in range(23):
        dispatch(ReceiveStock(metadata=STAFF, sku="hot", quantity=1))
    assert snapshot_version("Product-hot") == 25
    assert load(Product, "hot").on_hand == 24


@override_settings(EVENTSTORE_SNAPSHOT_EVERY=0)
def test_an_interval_of_zero_disables_snapshots() -> None:
    dispatch(RegisterProduct(metadata=STAFF, sku="cold", name="Cold", price=Decimal("1.00"), initial_stock=1))
    for _ in range(30):
        dispatch(ReceiveStock(metadata=STAFF, sku="cold", quantity=1))
    assert snapshot_version("Product-cold") is None

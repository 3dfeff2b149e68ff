"""Pure parts of the read side: the in-memory folds and the bus's access rules (no database)."""

import dataclasses
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from eventstore.log.append import RecordedEvent
from eventstore.log.positions import Checkpoint
from eventstore.projections.consistency import wait_until_passed
from orders_read.bus import Viewer, _scoped
from orders_read.projections import catalogue, order_summary
from orders_read.queries import GetOrderById, NotFoundError, OrderHistory

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def recorded(event_type: str, version: int, data: dict[str, Any], position: int = 1) -> RecordedEvent:
    return RecordedEvent(position, 0, uuid.uuid4(), "S-1", "S", version, event_type, 1, data, {}, AT)


def test_catalogue_fold_follows_the_stock_rules() -> None:
    products: dict[str, dict[str, Any]] = {}
    for event in [
        recorded("ProductRegistered", 1, {"product_id": "A", "name": "Apple", "description": "", "price": "1.00"}),
        recorded("StockReceived", 2, {"product_id": "A", "quantity": 10}),
        recorded("StockReserved", 3, {"product_id": "A", "order_id": "o", "quantity": 4}),
        recorded("StockReleased", 4, {"product_id": "A", "order_id": "o", "quantity": 1}),
        recorded("StockShipped", 5, {"product_id": "A", "order_id": "o", "quantity": 3}),
        recorded("PriceChanged", 6, {"product_id": "A", "old_price": "1.00", "new_price": "1.50"}),
    ]:
        catalogue._evolve(products, event)
    assert products["A"] == {
        "name": "Apple",
        "description": "",
        "price": Decimal("1.50"),
        "on_hand": 7,
        "reserved": 0,
        "version": 6,
    }


def test_catalogue_refuses_stock_for_an_unregistered_product() -> None:
    with pytest.raises(catalogue.ProductBeforeRegistration):
        catalogue._evolve({}, recorded("StockReceived", 1, {"product_id": "ghost", "quantity": 1}, position=42))


def test_order_fold_refuses_lines_before_creation() -> None:
    with pytest.raises(order_summary.OrderBeforeCreation, match="position 7"):
        order_summary._evolve(
            {},
            recorded(
                "OrderItemAdded",
                2,
                {"order_id": str(uuid.uuid4()), "product_id": "A", "name": "a", "quantity": 1, "unit_price": "1"},
                position=7,
            ),
            lambda at: at,
        )


def test_order_fold_keeps_each_line_and_its_price() -> None:
    order_id = str(uuid.uuid4())
    orders: dict[str, dict[str, Any]] = {}
    target = lambda at: at  # noqa: E731  keep times as they are
    order_summary._evolve(
        orders, recorded("OrderCreated", 1, {"order_id": order_id, "customer_id": "Al", "shipping_address": {}}), target
    )
    for version, price in ((2, "2"), (3, "2.5")):
        order_summary._evolve(
            orders,
            recorded(
                "OrderItemAdded",
                version,
                {"order_id": order_id, "product_id": "A", "name": "Apple", "quantity": 2, "unit_price": price},
            ),
            target,
        )
    row = order_summary._row(order_id, orders[order_id], native_uuid=True)
    columns = dict(zip(order_summary.COLUMNS, row, strict=True))
    assert (columns["item_count"], str(columns["total_amount"]), columns["version"]) == (4, "9.00", 3)
    assert columns["search_text"] == "al\na\napple\na\napple"


def test_customers_see_only_their_own_orders_staff_see_all() -> None:
    alice, staff = Viewer("alice"), Viewer("root", is_staff=True)
    bobs = SimpleNamespace(customer_id="bob", version=1)
    assert _scoped(bobs, staff) is bobs
    with pytest.raises(NotFoundError):
        _scoped(bobs, alice)
    with pytest.raises(NotFoundError):
        _scoped(OrderHistory("bob", []), alice)
    with pytest.raises(NotFoundError):
        _scoped(bobs, Viewer(None))
    assert _scoped(SimpleNamespace(customer_id="alice"), alice).customer_id == "alice"


def test_query_objects_are_immutable() -> None:
    query = GetOrderById(order_id=uuid.uuid4())
    with pytest.raises(AttributeError):
        query.order_id = uuid.uuid4()  # type: ignore[misc]


def test_a_query_backed_by_no_projection_is_fresh_at_once() -> None:
    assert wait_until_passed(Checkpoint(10**12, 10**12), [], timeout=0) is True


@pytest.mark.parametrize(
    ("projection", "key"),
    [
        (order_summary.OrderSummaryProjection, order_summary.ORDER_KEY),
        (catalogue.CatalogueProjection, catalogue.PRODUCT_KEY),
    ],
)
def test_every_handled_contract_names_its_row_by_the_key_the_batch_scan_reads(projection: Any, key: str) -> None:
    assert all(key in {f.name for f in dataclasses.fields(event)} for event in projection.handles)

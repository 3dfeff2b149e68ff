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
from orders_read.access import OwnedResult, OwnedRows, OwnerInQuery, StaffOnly, Viewer
from orders_read.errors import NotAtThatPoint, NotFoundError
from orders_read.projections import catalogue, order_summary
from orders_read.queries import GetCustomerOrders, GetOrderById, OrderHistory

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
        catalogue.evolve(products, event)
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
        catalogue.evolve({}, recorded("StockReceived", 1, {"product_id": "ghost", "quantity": 1}, position=42))


def test_order_fold_refuses_lines_before_creation() -> None:
    with pytest.raises(order_summary.OrderBeforeCreation, match="position 7"):
        order_summary.evolve(
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
    order_summary.evolve(
        orders, recorded("OrderCreated", 1, {"order_id": order_id, "customer_id": "Al", "shipping_address": {}}), target
    )
    for version, price in ((2, "2"), (3, "2.5")):
        order_summary.evolve(
            orders,
            recorded(
                "OrderItemAdded",
                version,
                {"order_id": order_id, "product_id": "A", "name": "Apple", "quantity": 2, "unit_price": price},
            ),
            target,
        )
    row = order_summary.table_row(order_id, orders[order_id], native_uuid=True)
    columns = dict(zip(order_summary.COLUMNS, row, strict=True))
    assert (columns["item_count"], str(columns["total_amount"]), columns["version"]) == (4, "9.00", 3)
    assert columns["search_text"] == "al\na\napple\na\napple"


def test_customers_see_only_their_own_orders_staff_see_all() -> None:
    alice, staff, owned = Viewer("alice"), Viewer("root", is_staff=True), OwnedResult()
    bobs = SimpleNamespace(customer_id="bob", version=1)
    assert owned.answer(lambda _: bobs, None, staff) is bobs
    with pytest.raises(NotFoundError):
        owned.answer(lambda _: bobs, None, alice)
    with pytest.raises(NotFoundError):
        owned.answer(lambda _: OrderHistory("bob", []), None, alice)
    with pytest.raises(NotFoundError):
        owned.answer(lambda _: bobs, None, Viewer(None))
    assert owned.answer(lambda _: SimpleNamespace(customer_id="alice"), None, alice).customer_id == "alice"


def test_why_an_order_has_no_past_state_is_told_only_to_those_who_may_see_it() -> None:
    def before_creation(query: object) -> None:
        raise NotAtThatPoint("No state before version 1.", owner="bob")

    with pytest.raises(NotFoundError) as hidden:
        OwnedResult().answer(before_creation, None, Viewer("alice"))
    assert type(hidden.value) is NotFoundError and hidden.value.detail == "No such order."
    with pytest.raises(NotAtThatPoint):
        OwnedResult().answer(before_creation, None, Viewer("bob"))


def test_a_customers_orders_are_theirs_and_staffs_only_and_lists_are_narrowed_to_the_owner() -> None:
    query = GetCustomerOrders(customer_id="bob")
    assert OwnerInQuery().answer(lambda q: q.customer_id, query, Viewer("bob")) == "bob"
    with pytest.raises(NotFoundError, match="No such customer"):
        OwnerInQuery().answer(lambda q: q.customer_id, query, Viewer("alice"))
    narrowed: list[dict[str, str]] = []
    rows = SimpleNamespace(filter=lambda **kw: narrowed.append(kw) or "narrowed")
    assert OwnedRows().answer(lambda _: rows, None, Viewer("alice")) == "narrowed"
    assert narrowed == [{"customer_id": "alice"}]
    assert OwnedRows().answer(lambda _: rows, None, Viewer("root", is_staff=True)) is rows


def test_staff_only_answers_are_missing_to_anyone_else() -> None:
    assert StaffOnly().answer(lambda _: "figures", None, Viewer("root", is_staff=True)) == "figures"
    with pytest.raises(NotFoundError):
        StaffOnly().answer(lambda _: "figures", None, Viewer("alice"))


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

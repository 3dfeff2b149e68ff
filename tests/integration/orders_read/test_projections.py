"""The three projections build exactly the views API.md describes from real log events."""

from decimal import Decimal

import pytest

from eventstore.log.append import ANY, NewEvent, StreamWrite, append
from orders_read.models import DailySales, OrderSummary, ProductView, ReadOnlyViewError
from tests.integration.orders_read.support import LogWriter, catch_up_all

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("manual_projections"),
]


def test_catalogue_follows_receive_reserve_release_and_ship() -> None:
    log = LogWriter()
    log.product("MUG-1", name="Blue mug", price="9.99", stock=10, description="Stoneware")
    kept, _ = log.order("alice", [("MUG-1", 3)])
    dropped, _ = log.order("bob", [("MUG-1", 2)])
    log.cancel(dropped)
    log.ship(kept)
    log.reprice("MUG-1", "12.50")
    catch_up_all()
    mug = ProductView.objects.get(pk="MUG-1")
    assert (mug.sku, mug.name, mug.description, mug.price) == ("MUG-1", "Blue mug", "Stoneware", Decimal("12.50"))
    assert (mug.on_hand, mug.reserved, mug.available) == (7, 0, 7)
    assert mug.version == 7  # registered, received, 2 reserved, released, shipped, repriced


def test_order_row_carries_lines_totals_status_and_times() -> None:
    log = LogWriter()
    log.product("A", name="Apple", price="1.25", stock=50)
    log.product("B", name="Banana", price="0.40", stock=50)
    order_id, _ = log.order("Alice", [("A", 2), ("B", 5), ("A", 1)], address={"city": "Lyon", "zip": "69001"})
    catch_up_all()
    order = OrderSummary.objects.get(pk=order_id)
    assert order.status == "pending"
    assert order.items == [
        {"product_id": "A", "name": "Apple", "quantity": 2, "unit_price": "1.25", "line_total": "2.50"},
        {"product_id": "B", "name": "Banana", "quantity": 5, "unit_price": "0.40", "line_total": "2.00"},
        {"product_id": "A", "name": "Apple", "quantity": 1, "unit_price": "1.25", "line_total": "1.25"},
    ]
    assert (order.item_count, order.total_amount, order.version) == (8, Decimal("5.75"), 4)
    assert order.shipping_address == {"city": "Lyon", "zip": "69001"}
    assert order.search_text == "alice\na\napple\nb\nbanana\na\napple"
    assert order.order_key == order_id
    assert order.created_at is not None and order.shipped_at is None and order.cancelled_at is None

    log.cancel(order_id, reason="too slow", by="staff")
    catch_up_all()
    order = OrderSummary.objects.get(pk=order_id)
    assert (order.status, order.cancel_reason, order.cancelled_by) == ("cancelled", "too slow", "staff")
    assert order.version == 5
    assert order.cancelled_at >= order.created_at


def test_shipped_order_and_lines_added_in_a_later_batch() -> None:
    log = LogWriter()
    log.product("A", price="3.00", stock=5)
    order_id, _ = log.order("carol", [("A", 1)])
    catch_up_all()
    from orders_write.events import OrderItemAdded

    append(
        StreamWrite(
            f"Order-{order_id}",
            ANY,
            [
                OrderItemAdded(
                    order_id=order_id, product_id="A", name="Product A", quantity=2, unit_price=Decimal("3.00")
                )
            ],
        )
    )
    log.lines[order_id].append(("A", 2))
    log.ship(order_id)
    catch_up_all(batch_size=1)
    order = OrderSummary.objects.get(pk=order_id)
    assert (order.status, order.item_count, order.total_amount, order.version) == ("shipped", 3, Decimal("9.00"), 4)
    assert order.shipped_at is not None


def test_old_cancellations_are_upcast_before_projection() -> None:
    log = LogWriter()
    log.product("A", stock=5)
    order_id, _ = log.order("dave", [("A", 1)])
    append(
        StreamWrite(
            f"Order-{order_id}",
            ANY,
            [NewEvent("OrderCancelled", {"order_id": order_id, "reason": "v1 era"}, schema_version=1)],
        )
    )
    catch_up_all()
    order = OrderSummary.objects.get(pk=order_id)
    assert (order.status, order.cancel_reason, order.cancelled_by) == ("cancelled", "v1 era", "customer")


def test_daily_sales_counts_orders_units_revenue_and_cancellations() -> None:
    log = LogWriter()
    log.product("A", price="2.50", stock=100)
    first, _ = log.order("alice", [("A", 2)])
    log.order("bob", [("A", 3), ("A", 1)])
    log.cancel(first)
    catch_up_all(batch_size=2)  # batches split days' sums: the upsert must add, not replace
    (day,) = DailySales.objects.all()
    assert (day.orders, day.units, day.revenue, day.cancelled) == (2, 6, Decimal("15.00"), 1)


def test_view_models_refuse_orm_writes() -> None:
    log = LogWriter()
    log.product("A", stock=1)
    catch_up_all()
    product = ProductView.objects.get(pk="A")
    with pytest.raises(ReadOnlyViewError):
        product.save()
    with pytest.raises(ReadOnlyViewError):
        product.delete()


def test_views_and_checkpoints_live_together_on_the_read_database() -> None:
    from django.conf import settings
    from django.db import connections

    from eventstore.routers import read_db_alias

    read_tables = set(connections[read_db_alias()].introspection.table_names())
    assert {
        "orders_read_order_summary",
        "orders_read_product",
        "orders_read_daily_sales",
        "eventstore_projection_state",
    } <= read_tables
    if "read" not in settings.DATABASES:
        pytest.skip("no separate read database (READ_DATABASE_URL) in this run")
    default_tables = set(connections["default"].introspection.table_names())
    assert "eventstore_event" in default_tables and "eventstore_event" not in read_tables
    assert not {"orders_read_order_summary", "eventstore_projection_state"} & default_tables

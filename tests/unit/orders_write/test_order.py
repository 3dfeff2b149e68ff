"""Order decisions: given these events, when this decision, then these events or this error."""

from decimal import Decimal
from typing import Any

import pytest

from orders_write.aggregates import Order
from orders_write.aggregates.order import PricedItem
from orders_write.errors import OrderNotPending, TooManyLines
from orders_write.events import OrderCancelled, OrderCreated, OrderItemAdded, OrderShipped, StockReceived
from orders_write.limits import MAX_LINES, MAX_ORDER_TOTAL, MAX_PRICE, MAX_QUANTITY

MUG = PricedItem("mug", "Mug", 2, Decimal("9.99"))
TEA = PricedItem("tea", "Tea", 1, Decimal("4.50"))


def created_order() -> Order:
    order = Order.blank("o1")
    for event in order.create(customer_id="alice", shipping_address={"city": "Oslo"}, items=[MUG, TEA]):
        order.apply(event)
    return order


def test_create_emits_the_order_then_one_event_per_line() -> None:
    events = Order.blank("o1").create(customer_id="alice", shipping_address={"city": "Oslo"}, items=[MUG, MUG])
    assert events[0] == OrderCreated(order_id="o1", customer_id="alice", shipping_address={"city": "Oslo"})
    assert (
        events[1:]
        == [OrderItemAdded(order_id="o1", product_id="mug", name="Mug", quantity=2, unit_price=Decimal("9.99"))] * 2
    )


def test_total_and_quantities_sum_the_lines() -> None:
    order = created_order()
    for event in order.add_item(PricedItem("mug", "Mug", 1, Decimal("10.00"))):
        order.apply(event)
    assert order.total == Decimal("9.99") * 2 + Decimal("4.50") + Decimal("10.00")
    assert order.quantities() == {"mug": 3, "tea": 1}


def test_cancel_records_who_and_why() -> None:
    assert created_order().cancel(reason="late", by="alice") == [
        OrderCancelled(order_id="o1", reason="late", cancelled_by="alice")
    ]


@pytest.mark.parametrize(
    "final_event",
    [
        OrderShipped(order_id="o1", shipped_by="staff"),
        OrderCancelled(order_id="o1", reason="", cancelled_by="alice"),
    ],
)
def test_a_shipped_or_cancelled_order_refuses_every_change(final_event: object) -> None:
    order = created_order()
    order.apply(final_event)
    for decide in (
        lambda: order.cancel(reason="x", by="alice"),
        lambda: order.ship(by="staff"),
        lambda: order.add_item(MUG),
    ):
        with pytest.raises(OrderNotPending):
            decide()


def test_snapshot_round_trip_keeps_the_state() -> None:
    order = created_order()
    order.apply(OrderCancelled(order_id="o1", reason="late", cancelled_by="alice"))
    restored = Order.from_snapshot("o1", order.snapshot_state(), 4)
    assert vars(restored) | {"version": 0} == vars(order) | {"version": 0}


def test_an_order_takes_lines_up_to_the_limit_and_refuses_one_more() -> None:
    """Bounded lines bound the order's total and units, which its view row must hold."""
    order = Order.blank("o1")
    full = [PricedItem("mug", "Mug", MAX_QUANTITY, MAX_PRICE)] * MAX_LINES
    for event in order.create(customer_id="alice", shipping_address={}, items=full):
        order.apply(event)
    assert (len(order.lines), order.total) == (MAX_LINES, MAX_ORDER_TOTAL)
    with pytest.raises(TooManyLines) as refused:
        order.add_item(MUG)
    assert refused.value.code == "too_many_lines" and refused.value.extra["max_lines"] == MAX_LINES
    with pytest.raises(TooManyLines):
        Order.blank("o2").create(customer_id="alice", shipping_address={}, items=[MUG] * (MAX_LINES + 1))


def test_an_event_of_another_stream_is_refused_not_ignored() -> None:
    order = created_order()
    foreign: Any = StockReceived(product_id="mug", quantity=1)  # what a mislabelled stream would hand the fold
    with pytest.raises(AssertionError):
        order.apply(foreign)

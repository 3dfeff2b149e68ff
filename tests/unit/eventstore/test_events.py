"""Event classes and upcasters, without a database."""

import dataclasses
from decimal import Decimal
from typing import ClassVar

import pytest

from eventstore.domain import DomainEvent, event_class, event_type
from eventstore.errors import UnknownEventType
from eventstore.log.upcasting import upcast, upcaster
from orders_write.events import OrderCancelled, OrderItemAdded


def test_payloads_keep_money_exact_and_round_trip_to_equal_events() -> None:
    line = OrderItemAdded(order_id="o-1", product_id="mug", name="Mug", quantity=2, unit_price=Decimal("19.90"))
    payload = line.to_payload()
    assert payload["unit_price"] == "19.90"
    assert OrderItemAdded.from_payload(payload) == line
    assert event_class("OrderItemAdded") is OrderItemAdded


def test_an_unregistered_event_type_is_an_explicit_error() -> None:
    with pytest.raises(UnknownEventType):
        event_class("NoSuchThingHappened")


def test_two_classes_cannot_claim_one_event_type() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class OrderShipped(DomainEvent):  # the same name as a published contract
        order_id: str

    with pytest.raises(ValueError):
        event_type(OrderShipped)


def test_a_v1_order_cancelled_is_upcast_to_v2_and_v2_is_left_alone() -> None:
    assert upcast("OrderCancelled", 1, {"order_id": "o", "reason": "r"}) == (
        2,
        {"order_id": "o", "reason": "r", "cancelled_by": "customer"},
    )
    v2 = {"order_id": "o", "reason": "r", "cancelled_by": "staff"}
    assert upcast("OrderCancelled", OrderCancelled.schema_version, v2) == (2, v2)


def test_upcasters_chain_one_step_at_a_time_and_refuse_a_duplicate_step() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class ThingRenamed(DomainEvent):
        schema_version: ClassVar[int] = 3
        title: str
        by: str

    upcaster("ThingRenamed", from_version=1)(lambda d: {"title": d["name"]})
    upcaster("ThingRenamed", from_version=2)(lambda d: {**d, "by": "system"})
    assert upcast("ThingRenamed", 1, {"name": "x"}) == (3, {"title": "x", "by": "system"})
    assert upcast("ThingRenamed", 2, {"title": "y"}) == (3, {"title": "y", "by": "system"})
    with pytest.raises(ValueError):
        upcaster("ThingRenamed", from_version=1)(lambda d: d)

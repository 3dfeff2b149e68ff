"""The planned representation answers what the DRF serializer's `.data` answers, value for value, or raises alike."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from rest_framework import serializers

from orders_read.models import OrderSummary, ProductView
from orders_read.representation import representer
from orders_read.serializers import DailySalesSerializer, OrderSerializer, ProductSerializer

LINE = {"product_id": "SKU-1", "name": "Mug", "quantity": 2, "unit_price": "4.50", "line_total": "9.00"}


def order(**changes: Any) -> OrderSummary:
    values: dict[str, Any] = {
        "order_id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "order_key": "12345678-1234-5678-1234-567812345678",
        "customer_id": "ann",
        "status": "pending",
        "items": [LINE, {**LINE, "product_id": "SKU-2", "quantity": 1, "line_total": "4.50"}],
        "item_count": 3,
        "total_amount": Decimal("13.50"),
        "shipping_address": {"city": "Oslo", "zip": None},
        "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        "shipped_at": None,
        "cancelled_at": None,
        "cancel_reason": "",
        "cancelled_by": "",
        "version": 2,
        "search_text": "ann",
    }
    return OrderSummary(**(values | changes))


def product(**changes: Any) -> ProductView:
    values: dict[str, Any] = {
        "product_id": "SKU-1",
        "sku": "SKU-1",
        "name": "Mug",
        "description": "A mug",
        "price": Decimal("4.50"),
        "on_hand": 5,
        "reserved": 1,
        "available": 4,
        "version": 3,
    }
    return ProductView(**(values | changes))


def outcome(compute: Any) -> Any:
    try:
        return compute()
    except Exception as refused:  # what DRF raises, the plan must raise too
        return type(refused)


def assert_same(serializer_class: type[serializers.Serializer], row: Any) -> None:
    planned = representer(serializer_class)
    assert planned is not None
    assert outcome(lambda: planned.one(row)) == outcome(lambda: serializer_class(row).data)
    assert outcome(lambda: planned.many([row, row])) == outcome(lambda: serializer_class([row, row], many=True).data)


OSLO = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"shipped_at": datetime(2026, 5, 1, 12, tzinfo=OSLO), "cancelled_at": datetime(2026, 5, 1, 12, tzinfo=UTC)},
        {"created_at": datetime(2026, 1, 2, 3, 4, 5)},  # naive: DRF makes it aware
        {"created_at": "2026-01-02T03:04:05Z"},  # a string passes as it is
        {"total_amount": Decimal("13.5")},
        {"total_amount": Decimal("13.505")},
        {"total_amount": Decimal("-0.00")},
        {"total_amount": Decimal("1E+2")},
        {"total_amount": Decimal("1234567890123.45")},
        {"total_amount": Decimal("12345678901234.50")},  # more digits than the field allows: DRF raises
        {"total_amount": Decimal("NaN")},
        {"total_amount": 13.5},
        {"total_amount": "013.50"},
        {"items": [{**LINE, "unit_price": " 4.5 "}, {**LINE, "line_total": 9}, {**LINE, "unit_price": "4.505"}]},
        {"items": [{**LINE, "unit_price": "12345678901.00"}]},  # beyond the line's max_digits: DRF raises
        {"items": [{**LINE, "quantity": "2"}, {**LINE, "name": 7}, {**LINE, "quantity": 2.0}]},
        {"items": [{k: v for k, v in LINE.items() if k != "line_total"}]},  # a missing key: DRF raises
        {"items": [{**LINE, "unit_price": None}]},
        {"items": (LINE,)},  # not a list: DRF's ListSerializer takes it
        {"items": []},
        {"items": None},
        {"shipping_address": {}},
        {"shipping_address": {1: "one", "nested": {"a": [1, 2]}}},
        {"shipping_address": ["not", "an", "object"]},
        {"customer_id": 42, "status": None, "cancel_reason": "lost"},
        {"version": "7"},
    ],
)
def test_an_order_is_rendered_as_drf_renders_it(changes: dict[str, Any]) -> None:
    assert_same(OrderSerializer, order(**changes))


@pytest.mark.parametrize(
    "changes",
    [{}, {"price": Decimal("4.5")}, {"price": "4.50"}, {"description": ""}, {"on_hand": None}, {"price": "0.01"}],
)
def test_a_product_is_rendered_as_drf_renders_it(changes: dict[str, Any]) -> None:
    assert_same(ProductSerializer, product(**changes))


def test_a_dict_row_is_rendered_from_its_keys() -> None:
    row = {"product_id": "SKU-1", "sku": "SKU-1", "name": "Mug", "description": "", "price": Decimal("1.00")}
    row |= {"on_hand": 1, "available": 1, "reserved": 0, "version": 1}
    assert_same(ProductSerializer, row)


def test_a_row_of_another_kind_is_left_to_drf() -> None:
    class Other:
        def __init__(self) -> None:
            self.__dict__.update(product().__dict__)

        @property
        def price(self) -> Decimal:
            return Decimal("2.00")

    assert_same(ProductSerializer, Other())


def test_a_serializer_with_a_field_it_cannot_plan_has_no_plan() -> None:
    assert representer(DailySalesSerializer) is None  # DateField: DRF renders it

    class Computed(serializers.Serializer):
        name = serializers.CharField()
        label = serializers.SerializerMethodField()

    assert representer(Computed) is None


def test_a_field_read_from_another_source_has_no_plan() -> None:
    class Renamed(serializers.Serializer):
        title = serializers.CharField(source="name")

    assert representer(Renamed) is None


def test_settings_that_change_drf_output_are_followed() -> None:
    with override_settings(REST_FRAMEWORK={"COERCE_DECIMAL_TO_STRING": False}):
        assert representer(ProductSerializer) is None  # decimals as numbers: DRF renders them
    with override_settings(USE_TZ=False):
        assert_same(OrderSerializer, order(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=OSLO)))
    assert_same(OrderSerializer, order())

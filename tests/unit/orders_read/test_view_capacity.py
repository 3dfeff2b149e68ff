"""Every view column holds the largest value commands can build up (orders_write/limits.py).

PostgreSQL refuses a value its column cannot hold, and a projection that hits one
stops; SQLite's reads fail the same way for a decimal wider than the model says.
The columns' real types on PostgreSQL are checked against these fields in
tests/integration/orders_read/test_view_columns.py.
"""

from decimal import Decimal

from django.db import models

from orders_read.models import DailySales, OrderSummary, ProductView
from orders_read.serializers import OrderLineSerializer
from orders_write.limits import (
    MAX_LINE_TOTAL,
    MAX_ORDER_TOTAL,
    MAX_ORDER_UNITS,
    MAX_PRICE,
    MAX_QUANTITY,
    MAX_STOCK,
)

LINES_A_DAY = 10**12
"""More order lines than the log could take in a day (over ten million a second)."""


def capacity(field: models.Field | object) -> Decimal:
    """The largest value a decimal or integer column (or decimal serializer field) holds."""
    if isinstance(field, models.BigIntegerField):
        return Decimal(2**63 - 1)
    if isinstance(field, models.IntegerField):
        return Decimal(2**31 - 1)
    whole_digits = field.max_digits - field.decimal_places
    return Decimal(10) ** whole_digits - Decimal(10) ** -field.decimal_places


def field(model: type[models.Model], name: str) -> models.Field:
    return model._meta.get_field(name)


def test_an_order_row_holds_a_maximal_order() -> None:
    assert capacity(field(OrderSummary, "total_amount")) >= MAX_ORDER_TOTAL
    assert capacity(field(OrderSummary, "item_count")) >= MAX_ORDER_UNITS
    line = OrderLineSerializer()
    assert capacity(line.fields["unit_price"]) >= MAX_PRICE
    assert capacity(line.fields["line_total"]) >= MAX_LINE_TOTAL


def test_a_catalogue_row_holds_a_maximal_product() -> None:
    assert capacity(field(ProductView, "price")) >= MAX_PRICE
    for name in ("on_hand", "reserved", "available"):
        assert capacity(field(ProductView, name)) >= MAX_STOCK


def test_a_day_of_sales_holds_more_lines_than_the_log_can_take_in_a_day() -> None:
    assert capacity(field(DailySales, "revenue")) >= LINES_A_DAY * MAX_LINE_TOTAL
    assert capacity(field(DailySales, "units")) >= LINES_A_DAY * MAX_QUANTITY
    for name in ("orders", "cancelled"):
        assert capacity(field(DailySales, name)) >= LINES_A_DAY

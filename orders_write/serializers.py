"""Syntactic validation of command bodies: shapes, types and ranges (400), never state (422).

The fields here are shared by the nested InputSerializers of orders_write/api.py.
They refuse what a lenient DRF field would quietly coerce: a number where a string
belongs in an address, NaN or Infinity as a price, more than two decimals.
"""

from decimal import Decimal
from typing import Any, Final

from rest_framework import serializers

SKU_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_QUANTITY: Final = 10_000
"""A bigger quantity on one line is a typo or an attack, not an order."""
MAX_PRICE: Final = Decimal("1000000.00")
MAX_LINES: Final = 100
MAX_ADDRESS_FIELDS: Final = 30


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    """A RegexField that refuses a number instead of matching its text (`{"sku": 123}` is a 400)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def sku_field(**kwargs: Any) -> serializers.RegexField:
    return StrictRegexField(
        SKU_PATTERN,
        max_length=64,
        error_messages={"invalid": "A sku is 1-64 letters, digits, '.', '_' or '-'."},
        **kwargs,
    )


def quantity_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY, **kwargs)


def price_field(**kwargs: Any) -> serializers.DecimalField:
    """Money: positive, at most two decimals; DRF's DecimalField already refuses NaN and Infinity."""
    return serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_PRICE, **kwargs
    )


class ShippingAddressField(serializers.DictField):
    """A JSON object of free string keys with string values (API.md)."""

    child = StrictCharField(allow_blank=True, max_length=500)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        value = super().to_internal_value(data)
        if len(value) > MAX_ADDRESS_FIELDS:
            raise serializers.ValidationError(f"At most {MAX_ADDRESS_FIELDS} fields.")
        if any(len(key) > 100 for key in value):
            raise serializers.ValidationError("Field names are at most 100 characters.")
        return value


class OrderItemSerializer(serializers.Serializer):
    """One requested line; a `unit_price` sent by the client is ignored (prices come from the catalogue)."""

    product_id = sku_field()
    quantity = quantity_field()


class CommandResultSerializer(serializers.Serializer):
    """The answer of every command (for the schema; `api.command_response` renders the actual body)."""

    id = serializers.CharField()
    version = serializers.IntegerField()
    consistency_token = serializers.CharField()

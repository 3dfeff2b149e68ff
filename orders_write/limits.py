"""The largest values commands can set or build up: every view column is sized to hold them.

A value one command sets beyond its bound is a shape error (400, serializers.py); a
command that would take a running total past its bound is refused by the aggregate
(422). orders_read/models.py sizes the view columns from these products, and
tests/unit/orders_read/test_view_capacity.py checks that they hold them. Plain Python,
so the aggregates may import it.
"""

from decimal import Decimal
from typing import Final

MAX_QUANTITY: Final = 10_000
"""Units on one order line: a bigger quantity is a typo or an attack, not an order."""
MAX_PRICE: Final = Decimal("1000000.00")
MAX_LINES: Final = 100
"""Lines of one order, whether sent at creation or added later."""
MAX_RECEIVE: Final = 1_000_000
"""Units one registration (`initial_stock`) or one receipt brings in."""
MAX_STOCK: Final = 1_000_000_000
"""Units on hand of one product: below a 32-bit integer column's 2,147,483,647."""

MAX_LINE_TOTAL: Final = MAX_PRICE * MAX_QUANTITY
MAX_ORDER_TOTAL: Final = MAX_LINE_TOTAL * MAX_LINES
MAX_ORDER_UNITS: Final = MAX_QUANTITY * MAX_LINES

"""The published event contracts: the only module of the write side the read side may import.

Each event is one fact, named in the past tense, and carries everything a projection
needs (sku, name and unit price on order lines) so the read side never looks anything
up. Money is a Decimal, stored as a string. Product ids are skus; streams are
`Product-<sku>` and `Order-<order id>`. Changing a payload's shape means a new
`schema_version` and an upcaster below, so stored events stay readable.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from eventstore.domain import DomainEvent, event_type
from eventstore.log.upcasting import upcaster

# Product stream ------------------------------------------------------------------


@event_type
@dataclass(frozen=True, slots=True, kw_only=True)
class ProductRegistered(DomainEvent):
    """A product entered the catalogue (its stock arrives as StockReceived)."""

    product_id: str
    name: str
    description: str
    price: Decimal


@event_type
@dataclass(frozen=True, slots=True, kw_only=True)
class StockReceived(DomainEvent):
    """Units arrived in the warehouse: on_hand grows."""

    product_id: str
    quantity: int


@event_type
@dataclass(frozen=True, slots=True, kw_only=True)
class PriceChanged(DomainEvent):
    """The catalogue price changed; lines already ordered keep their price."""

    product_id: str
    old_price: Decimal
    new_price: Decimal


@event_type
@dataclass(frozen=True, slots=True, kw_only=True)
class StockReserved(DomainEvent):
    """A pending order holds units: reserved grows, available shrinks."""

    product_id: str
    order_id: str
    quantity: int


@event_type
@dataclass(frozen=True, slots=True, kw_only=True)
class StockReleased(DomainEvent):
    """A cancelled order let its units go: reserved shrinks, available grows."""

    product_id: str
    order_id: str
    quantity: int


@event_type
@dataclass(frozen=True, slots=True, kw_only=True)
class StockShipped(DomainEvent):
    """Reserved units left the warehouse: on_hand and reserved both shrink."""

    product_id: str
    order_id: str
    quantity: int


# Order stream --------------------------------------------------------------------


@event_type
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCreated(DomainEvent):
    """An order was opened for a customer; its lines follow as OrderItemAdded."""

    order_id: str
    customer_id: str
    shipping_address: dict[str, Any]


@event_type
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderItemAdded(DomainEvent):
    """One line: a quantity of a product at the catalogue price of that moment.

    Every event is its own line, even for a product already on the order.
    """

    order_id: str
    product_id: str
    name: str
    quantity: int
    unit_price: Decimal


@event_type
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelled(DomainEvent):
    """The order will not ship; its reserved stock is free again."""

    schema_version: ClassVar[int] = 2
    order_id: str
    reason: str
    cancelled_by: str  # v2: staff may cancel too, and support needs to know who did


@upcaster("OrderCancelled", from_version=1)
def _v1_cancelled_by_customer(data: dict[str, Any]) -> dict[str, Any]:
    """Under v1 only customers could cancel, so every v1 event was theirs."""
    return {**data, "cancelled_by": "customer"}


@event_type
@dataclass(frozen=True, slots=True, kw_only=True)
class OrderShipped(DomainEvent):
    """The order left the warehouse with all its lines."""

    order_id: str
    shipped_by: str


ProductEvent = ProductRegistered | StockReceived | PriceChanged | StockReserved | StockReleased | StockShipped
"""Every event of a Product stream: what the Product aggregate applies and the catalogue folds."""
OrderEvent = OrderCreated | OrderItemAdded | OrderCancelled | OrderShipped
"""Every event of an Order stream: what the Order aggregate applies and the order view folds."""
PRODUCT_EVENTS = (ProductRegistered, StockReceived, PriceChanged, StockReserved, StockReleased, StockShipped)
ORDER_EVENTS = (OrderCreated, OrderItemAdded, OrderCancelled, OrderShipped)

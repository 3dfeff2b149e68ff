"""The Product aggregate: catalogue entry and stock counts of one sku (stream `Product-<sku>`).

Stock is `on_hand` (in the warehouse) and `reserved` (held by pending orders);
`available = on_hand - reserved` can never go below zero because `reserve` refuses
more than is available, and the store's expected versions make that decision stick
under concurrency. Plain Python: no Django, no I/O.
"""

from decimal import Decimal
from typing import Any, ClassVar, Self, assert_never

from orders_write.errors import (
    AlreadyExists,
    InconsistentRead,
    InsufficientStock,
    NotFound,
    StockLimitExceeded,
    UnknownProduct,
)
from orders_write.events import (
    PriceChanged,
    ProductEvent,
    ProductRegistered,
    StockReceived,
    StockReleased,
    StockReserved,
    StockShipped,
)
from orders_write.limits import MAX_STOCK


class Product:
    stream_type: ClassVar[str] = "Product"
    snapshot_schema: ClassVar[int] = 1
    snapshot_every: ClassVar[int] = 25
    """Every order touches its products' streams, so they grow fastest and are loaded most."""

    def __init__(self, sku: str) -> None:
        self.id = sku
        self.version = 0
        self.registered = False
        self.name = ""
        self.description = ""
        self.price = Decimal("0")
        self.on_hand = 0
        self.reserved = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    # Loading (eventstore.aggregates.snapshots.Aggregate) ------------------------------------

    @classmethod
    def blank(cls, aggregate_id: str) -> Self:
        return cls(aggregate_id)

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any], version: int) -> Self:
        product = cls(aggregate_id)
        product.version = version
        product.registered = True
        product.name = state["name"]
        product.description = state["description"]
        product.price = Decimal(state["price"])
        product.on_hand = state["on_hand"]
        product.reserved = state["reserved"]
        return product

    def snapshot_state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "price": str(self.price),
            "on_hand": self.on_hand,
            "reserved": self.reserved,
        }

    def apply(self, event: ProductEvent) -> None:
        match event:
            case ProductRegistered():
                self.registered = True
                self.name, self.description, self.price = event.name, event.description, event.price
            case StockReceived():
                self.on_hand += event.quantity
            case PriceChanged():
                self.price = event.new_price
            case StockReserved():
                self.reserved += event.quantity
            case StockReleased():
                self.reserved -= event.quantity
            case StockShipped():
                self.on_hand -= event.quantity
                self.reserved -= event.quantity
            case _:
                assert_never(event)

    # Decisions ---------------------------------------------------------------------

    def register(self, *, name: str, description: str, price: Decimal, initial_stock: int) -> list[ProductEvent]:
        if self.registered:
            raise AlreadyExists(f"A product with sku {self.id!r} already exists.", product_id=self.id)
        events: list[ProductEvent] = [
            ProductRegistered(product_id=self.id, name=name, description=description, price=price)
        ]
        if initial_stock > 0:
            events.append(StockReceived(product_id=self.id, quantity=initial_stock))
        return events

    def receive(self, *, quantity: int) -> list[ProductEvent]:
        """Bounded on hand keeps the catalogue's stock figures within what their columns hold."""
        self._require_registered()
        _require_positive(quantity)
        if self.on_hand + quantity > MAX_STOCK:
            raise StockLimitExceeded(
                f"{self.id!r} has {self.on_hand} units on hand; a product holds at most {MAX_STOCK}.",
                product_id=self.id,
                on_hand=self.on_hand,
                max_on_hand=MAX_STOCK,
            )
        return [StockReceived(product_id=self.id, quantity=quantity)]

    def change_price(self, *, price: Decimal) -> list[ProductEvent]:
        self._require_registered()
        if price <= 0:
            raise ValueError("price must be positive")
        return [PriceChanged(product_id=self.id, old_price=self.price, new_price=price)]

    def reserve(self, *, order_id: str, quantity: int) -> list[ProductEvent]:
        """Hold units for a pending order; refuses what is not available (never oversells)."""
        if not self.registered:
            raise UnknownProduct(f"Product {self.id!r} does not exist.", product_id=self.id)
        _require_positive(quantity)
        if quantity > self.available:
            raise InsufficientStock(
                f"Only {self.available} of {self.id!r} available, {quantity} requested.",
                product_id=self.id,
                available=self.available,
                requested=quantity,
            )
        return [StockReserved(product_id=self.id, order_id=order_id, quantity=quantity)]

    def release(self, *, order_id: str, quantity: int) -> list[ProductEvent]:
        """Give back what a cancelled order held; more than is reserved means a stale read of the order."""
        _require_positive(quantity)
        if quantity > self.reserved:
            raise InconsistentRead(f"cannot release {quantity} of {self.id}: only {self.reserved} reserved")
        return [StockReleased(product_id=self.id, order_id=order_id, quantity=quantity)]

    def ship(self, *, order_id: str, quantity: int) -> list[ProductEvent]:
        """Reserved units leave the warehouse: on_hand and reserved drop, available stays."""
        _require_positive(quantity)
        if quantity > self.reserved or quantity > self.on_hand:
            raise InconsistentRead(f"cannot ship {quantity} of {self.id}: {self.reserved} reserved")
        return [StockShipped(product_id=self.id, order_id=order_id, quantity=quantity)]

    def _require_registered(self) -> None:
        if not self.registered:
            raise NotFound(f"Product {self.id!r} does not exist.")


def _require_positive(quantity: int) -> None:
    if quantity < 1:
        raise ValueError("quantity must be at least 1")

"""The Order aggregate: one customer's order, its lines and its status (stream `Order-<uuid>`).

Lines keep the catalogue price of the moment they were added, so a later price change
never rewrites an order. Only a pending order changes; shipped and cancelled are final.
Plain Python: no Django, no I/O. Stock is the Product aggregate's business; the
handlers put both decisions into one append.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, Self, assert_never

from orders_write.errors import OrderNotPending, TooManyLines
from orders_write.events import OrderCancelled, OrderCreated, OrderEvent, OrderItemAdded, OrderShipped
from orders_write.limits import MAX_LINES

PENDING, SHIPPED, CANCELLED = "pending", "shipped", "cancelled"


@dataclass(frozen=True, slots=True)
class Line:
    product_id: str
    name: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class PricedItem:
    """A line as the catalogue prices it when it is added (what `create`/`add_item` take)."""

    product_id: str
    name: str
    quantity: int
    unit_price: Decimal


class Order:
    stream_type: ClassVar[str] = "Order"
    snapshot_schema: ClassVar[int] = 1

    def __init__(self, order_id: str) -> None:
        self.id = order_id
        self.version = 0
        self.customer_id = ""
        self.status = ""
        self.shipping_address: dict[str, Any] = {}
        self.lines: list[Line] = []
        self.cancel_reason = ""
        self.cancelled_by = ""
        self.shipped_by = ""

    @property
    def exists(self) -> bool:
        return bool(self.status)

    @property
    def total(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0"))

    def quantities(self) -> dict[str, int]:
        """Units per product over all lines: what the order holds on each product stream."""
        held: dict[str, int] = {}
        for line in self.lines:
            held[line.product_id] = held.get(line.product_id, 0) + line.quantity
        return held

    # Loading (eventstore.aggregates.snapshots.Aggregate) ------------------------------------

    @classmethod
    def blank(cls, aggregate_id: str) -> Self:
        return cls(aggregate_id)

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any], version: int) -> Self:
        order = cls(aggregate_id)
        order.version = version
        order.customer_id, order.status = state["customer_id"], state["status"]
        order.shipping_address = state["shipping_address"]
        order.lines = [Line(p, n, q, Decimal(u)) for p, n, q, u in state["lines"]]
        order.cancel_reason, order.cancelled_by = state["cancel_reason"], state["cancelled_by"]
        order.shipped_by = state["shipped_by"]
        return order

    def snapshot_state(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "status": self.status,
            "shipping_address": self.shipping_address,
            "lines": [[x.product_id, x.name, x.quantity, str(x.unit_price)] for x in self.lines],
            "cancel_reason": self.cancel_reason,
            "cancelled_by": self.cancelled_by,
            "shipped_by": self.shipped_by,
        }

    def apply(self, event: OrderEvent) -> None:
        match event:
            case OrderCreated():
                self.customer_id, self.status = event.customer_id, PENDING
                self.shipping_address = dict(event.shipping_address)
            case OrderItemAdded():
                self.lines.append(Line(event.product_id, event.name, event.quantity, event.unit_price))
            case OrderCancelled():
                self.status, self.cancel_reason, self.cancelled_by = CANCELLED, event.reason, event.cancelled_by
            case OrderShipped():
                self.status, self.shipped_by = SHIPPED, event.shipped_by
            case _:
                assert_never(event)

    # Decisions ---------------------------------------------------------------------

    def create(
        self, *, customer_id: str, shipping_address: dict[str, Any], items: list[PricedItem]
    ) -> list[OrderEvent]:
        """Open the order with all its lines; each line is its own OrderItemAdded."""
        if self.exists:
            raise ValueError(f"order {self.id} already exists")
        if not items:
            raise ValueError("an order needs at least one line")
        self._require_room(len(items))
        created = OrderCreated(order_id=self.id, customer_id=customer_id, shipping_address=shipping_address)
        return [created, *(self._line(item) for item in items)]

    def add_item(self, item: PricedItem) -> list[OrderEvent]:
        self._require_pending()
        self._require_room(1)
        return [self._line(item)]

    def cancel(self, *, reason: str, by: str) -> list[OrderEvent]:
        self._require_pending()
        return [OrderCancelled(order_id=self.id, reason=reason, cancelled_by=by)]

    def ship(self, *, by: str) -> list[OrderEvent]:
        self._require_pending()
        return [OrderShipped(order_id=self.id, shipped_by=by)]

    def _line(self, item: PricedItem) -> OrderItemAdded:
        if item.quantity < 1:
            raise ValueError("quantity must be at least 1")
        return OrderItemAdded(
            order_id=self.id,
            product_id=item.product_id,
            name=item.name,
            quantity=item.quantity,
            unit_price=item.unit_price,
        )

    def _require_pending(self) -> None:
        if self.status != PENDING:
            raise OrderNotPending(f"Order {self.id} is {self.status}.", status=self.status)

    def _require_room(self, new_lines: int) -> None:
        """Bounded lines keep the order's total and units within what its view row holds."""
        if len(self.lines) + new_lines > MAX_LINES:
            raise TooManyLines(
                f"An order has at most {MAX_LINES} lines; this one has {len(self.lines)}.",
                lines=len(self.lines),
                max_lines=MAX_LINES,
            )

"""The oracle's model: what every view must show, kept from the answers the server gave.

Written from API.md alone and importing nothing of the project, so a bug in the code
under test cannot leak into the expectations. Two rules make it exact under racing
clients:

- every order is driven by one client thread only, so its state (status, lines,
  version) is a plain sequence of that thread's accepted commands;
- stock is a pure function of the per-order outcomes and the stock received
  (on_hand = initial + received - shipped units, reserved = units of pending orders),
  so the order in which threads raced on a product does not matter.

What does depend on the interleaving is taken from the log, never guessed: the
catalogue price a line was priced at is the price in force at the place of that
line's reservation in the product's stream (the prices themselves come from the
model), and the UTC day a figure of daily sales belongs to is the day its command's
events were recorded.
"""

import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")

ACCEPT, EITHER, REFUSE = "accept", "either", "refuse"
SENT, ACCEPTED, REFUSED, UNRESOLVED, NOT_COMMITTED = "sent", "accepted", "refused", "unresolved", "not_committed"

Events = list[tuple[str, str]]
"""What a command must append, as (stream id, event type) pairs (API.md: streams `Order-<id>`, `Product-<sku>`)."""


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


@dataclass
class Product:
    sku: str
    name: str
    description: str
    price: Decimal  # the latest accepted catalogue price (only one thread changes prices)
    initial_price: Decimal
    initial_stock: int
    register_rid: str
    received: int = 0
    receives: int = 0
    price_changes: dict[str, Decimal] = field(default_factory=dict)  # request id -> new price
    price_frozen: bool = False  # a price change of unknown outcome: no more changes to this product


@dataclass
class Line:
    sku: str
    name: str
    quantity: int
    rid: str  # the command that added it (its reservation carries the same correlation id)
    unit_price: Decimal | None = None  # the catalogue price of that moment, from the log's order


@dataclass
class Order:
    order_id: str
    customer: str
    owner: str  # the client thread that drives it, alone
    address: dict[str, str]
    created_rid: str
    lines: list[Line] = field(default_factory=list)
    status: str = "pending"
    version: int = 0
    cancel_reason: str = ""
    cancel_rid: str = ""
    last_token: str = ""  # consistency token of its last accepted command
    frozen: bool = False  # a command of unknown outcome or an unexpected answer: the thread leaves it alone

    def units(self) -> dict[str, int]:
        held: dict[str, int] = defaultdict(int)
        for line in self.lines:
            held[line.sku] += line.quantity
        return dict(held)

    def skus(self) -> list[str]:
        return list(dict.fromkeys(line.sku for line in self.lines))


@dataclass
class Record:
    """One logical command: every try, retry and deliberate duplicate of it shares its request id and key."""

    rid: str
    kind: str
    thread: str
    method: str
    path: str
    body: Any
    key: str
    user: str
    expect: str
    effect: Callable[["Record", str | None], Events] | None = None
    outcome: str = SENT
    status: int | None = None
    answer: Any = None
    ambiguous: bool = False  # some try ended without an answer (timeout, dropped connection, 500)
    tries: int = 0
    events: Events | None = None  # what the log must hold for it once accepted
    order_id: str | None = None


class Model:
    """Everything the oracle knows; mutated under `lock` by the client threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.products: dict[str, Product] = {}
        self.pool: list[str] = []  # big-stock products any thread may order
        self.priced: list[str] = []  # the subset whose price thread 0 changes
        self.scarce: str = ""  # little stock, never replenished: orders race for it
        self.orders: dict[str, Order] = {}
        self.order_ids: list[str] = []
        self.records: list[Record] = []
        self.by_rid: dict[str, Record] = {}
        self.customers: list[str] = []

    def add_record(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)
            self.by_rid[record.rid] = record

    def add_order(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self.order_ids.append(order.order_id)

    def name_of(self, sku: str) -> str:
        return self.products[sku].name

    # Expected views ----------------------------------------------------------------------

    def expected_order(self, order: Order) -> dict[str, Any]:
        items = []
        total = Decimal("0")
        for line in order.lines:
            price = line.unit_price
            items.append(
                {
                    "product_id": line.sku,
                    "name": line.name,
                    "quantity": line.quantity,
                    "unit_price": money(price) if price is not None else "<unknown: reservation not in the log>",
                    "line_total": money(price * line.quantity) if price is not None else "<unknown>",
                }
            )
            total += (price or Decimal("0")) * line.quantity
        return {
            "order_id": order.order_id,
            "customer_id": order.customer,
            "status": order.status,
            "items": items,
            "item_count": sum(line.quantity for line in order.lines),
            "total_amount": money(total),
            "shipping_address": order.address,
            "cancel_reason": order.cancel_reason,
            "version": order.version,
        }

    def expected_products(self) -> dict[str, dict[str, Any]]:
        shipped: Counter = Counter()
        reserved: Counter = Counter()
        reservations: Counter = Counter()  # StockReserved events: one per product per command
        releases: Counter = Counter()
        ships: Counter = Counter()
        for order in self.orders.values():
            for sku, _rid in dict.fromkeys((line.sku, line.rid) for line in order.lines):
                reservations[sku] += 1
            for sku, units in order.units().items():
                if order.status == "pending":
                    reserved[sku] += units
                elif order.status == "shipped":
                    shipped[sku] += units
                    ships[sku] += 1
                else:
                    releases[sku] += 1
        expected = {}
        for sku, product in self.products.items():
            on_hand = product.initial_stock + product.received - shipped[sku]
            version = (
                1
                + (product.initial_stock > 0)
                + product.receives
                + len(product.price_changes)
                + reservations[sku]
                + releases[sku]
                + ships[sku]
            )
            expected[sku] = {
                "product_id": sku,
                "sku": sku,
                "name": product.name,
                "description": product.description,
                "price": money(product.price),
                "on_hand": on_hand,
                "reserved": reserved[sku],
                "available": on_hand - reserved[sku],
                "version": version,
            }
        return expected

    def expected_sales(self, day_of: Callable[[str], date | None]) -> dict[str, dict[str, Any]]:
        """Per UTC day: orders created, units and revenue of lines added, orders cancelled (gross)."""
        days: dict[date, list] = defaultdict(lambda: [0, 0, Decimal("0"), 0])
        for order in self.orders.values():
            created = day_of(order.created_rid)
            if created is not None:
                days[created][0] += 1
            for line in order.lines:
                day = day_of(line.rid)
                if day is not None:
                    days[day][1] += line.quantity
                    days[day][2] += (line.unit_price or Decimal("0")) * line.quantity
            if order.status == "cancelled" and (cancelled := day_of(order.cancel_rid)) is not None:
                days[cancelled][3] += 1
        return {
            d.isoformat(): {"date": d.isoformat(), "orders": o, "units": u, "revenue": money(r), "cancelled": c}
            for d, (o, u, r, c) in sorted(days.items())
        }


def differences(expected: dict[str, Any], actual: Any) -> list[str]:
    """Field by field, what a view shows that the model does not expect (empty: equal)."""
    if not isinstance(actual, dict):
        return [f"answer is not an object: {str(actual)[:200]}"]
    return [
        f"{name}: view {actual.get(name, '<missing>')!r} != model {value!r}"
        for name, value in expected.items()
        if actual.get(name, "<missing>") != value
    ]

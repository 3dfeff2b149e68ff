"""OrderSummaryProjection: one flat row per order, for the order detail, lists and search."""

import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Final, assert_never

from eventstore.log.read import Recorded
from eventstore.projections.base import Target, register
from eventstore.projections.keyed import KeyedProjection
from eventstore.projections.sql import db_json, db_uuid, fetch, load_json, money, native_uuids, time_adapter
from orders_read.models import OrderSummary
from orders_write.events import ORDER_EVENTS, OrderCancelled, OrderCreated, OrderEvent, OrderItemAdded, OrderShipped

_CREATED: Final = OrderCreated.event_type()
ORDER_KEY: Final = "order_id"
"""The field by which every order event names its order (a unit test holds each contract to it)."""

COLUMNS = (
    "order_id",
    "order_key",
    "customer_id",
    "status",
    "items",
    "item_count",
    "total_amount",
    "shipping_address",
    "created_at",
    "shipped_at",
    "cancelled_at",
    "cancel_reason",
    "cancelled_by",
    "version",
    "search_text",
)
_FOLDED = (
    "customer_id",
    "status",
    "items",
    "shipping_address",
    "created_at",
    "shipped_at",
    "cancelled_at",
    "cancel_reason",
    "cancelled_by",
    "version",
)


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""str(uuid.UUID(x)) == x: the key needs no parsing (a regex match is several times cheaper)."""


class OrderBeforeCreation(ValueError):
    """An order event arrived for an order the view has never seen created: a broken log."""


@register
class OrderSummaryProjection(KeyedProjection):
    """Folds the batch per order in memory from the rows already stored, then upserts once."""

    name: ClassVar[str] = "order_summary"
    version: ClassVar[int] = 1
    handles = ORDER_EVENTS
    models = (OrderSummary,)
    model = OrderSummary
    columns = COLUMNS
    key = "order_id"

    def keys(self, batch: Sequence[Recorded]) -> tuple[set[str], set[str]]:
        # The key is read from the raw payload, not a typed event: the fold decodes each event, once.
        return (
            {e.data[ORDER_KEY] for e in batch},
            {e.data[ORDER_KEY] for e in batch if e.event_type == _CREATED},
        )

    def canonical(self, key: str) -> str:
        return str(uuid.UUID(key))

    def load(self, target: Target, keys: set[str]) -> dict[str, dict[str, Any]]:
        stored = fetch(
            target, target.table(OrderSummary), ("order_id", *_FOLDED), "order_id", [db_uuid(target, i) for i in keys]
        )
        orders: dict[str, dict[str, Any]] = {}
        for row in stored:
            order = dict(zip(_FOLDED, row[1:], strict=True))
            order["items"] = load_json(order["items"])
            order["shipping_address"] = load_json(order["shipping_address"])
            orders[str(uuid.UUID(str(row[0])))] = order
        return orders

    def fold(self, rows: dict[str, dict[str, Any]], batch: Sequence[Recorded], target: Target) -> None:
        at = time_adapter(target)
        for recorded in batch:
            evolve(rows, recorded, at)

    def rows(self, folded: dict[str, dict[str, Any]], target: Target) -> list[tuple]:
        native_uuid = native_uuids(target)
        return [table_row(i, o, native_uuid) for i, o in folded.items()]


def order_event(recorded: Recorded) -> OrderEvent:
    """The typed order event of a recorded one; ValueError for a type the view does not handle."""
    event = recorded.to_domain()
    if not isinstance(event, ORDER_EVENTS):
        raise ValueError(f"order_summary does not handle {recorded.event_type}")
    return event


def evolve(orders: dict[str, dict[str, Any]], recorded: Recorded, at: Callable[[datetime], Any]) -> None:
    """Fold one event into the rows of a batch, keyed by the canonical order id."""
    event = order_event(recorded)
    order_id = event.order_id
    if order_id not in orders and not _CANONICAL_UUID.fullmatch(order_id):  # the canonical form is the key
        order_id = str(uuid.UUID(order_id))
    orders[order_id] = evolve_order(orders.get(order_id), event, recorded, at)


def evolve_order(
    order: dict[str, Any] | None, event: OrderEvent, recorded: Recorded, at: Callable[[datetime], Any]
) -> dict[str, Any]:
    """One order's state after `event` (None before its OrderCreated): what the order view shows.

    The one transition both readers of the log use: the projection folds its batches with
    it, and the as-of queries (orders_read/as_of.py) fold one stream up to a version with
    it, so the view "as of now" and the live view cannot differ. No I/O. The state is
    updated in place and returned: a rebuild folds millions of events, and copying each
    state would cost it more than the fold itself. Times are kept in the form `at` gives
    them (the database's for the projection, datetimes for time travel); `recorded` says
    when and at which version the event was recorded.
    """
    match event:
        case OrderCreated():
            return {
                "customer_id": event.customer_id,
                "status": "pending",
                "items": [],
                "shipping_address": event.shipping_address or {},
                "created_at": at(recorded.recorded_at),
                "shipped_at": None,
                "cancelled_at": None,
                "cancel_reason": "",
                "cancelled_by": "",
                "version": recorded.version,
            }
        case OrderItemAdded():
            order = _created(order, recorded, event.order_id)
            price = money(event.unit_price)
            order["items"].append(
                {
                    "product_id": event.product_id,
                    "name": event.name,
                    "quantity": event.quantity,
                    "unit_price": str(price),
                    "line_total": str(price * event.quantity),
                }
            )
        case OrderCancelled():
            order = _created(order, recorded, event.order_id)
            order.update(
                status="cancelled",
                cancelled_at=at(recorded.recorded_at),
                cancel_reason=event.reason or "",
                cancelled_by=event.cancelled_by or "",
            )
        case OrderShipped():
            order = _created(order, recorded, event.order_id)
            order.update(status="shipped", shipped_at=at(recorded.recorded_at))
        case _:
            assert_never(event)
    order["version"] = recorded.version
    return order


def _created(order: dict[str, Any] | None, recorded: Recorded, order_id: str) -> dict[str, Any]:
    if order is None:
        raise OrderBeforeCreation(f"{recorded.event_type} at position {recorded.position} for unknown order {order_id}")
    return order


def order_fields(order_id: str, order: dict[str, Any]) -> dict[str, Any]:
    """The view's columns of a folded order as Python values, by field name (an OrderSummary's kwargs)."""
    return dict(zip(COLUMNS, _columns(uuid.UUID(order_id), order_id, order, _as_is), strict=True))


def table_row(order_id: str, order: dict[str, Any], native_uuid: bool) -> tuple:
    """The table row of a folded order, in COLUMNS order and in the database's forms."""
    return _columns(order_id if native_uuid else uuid.UUID(order_id).hex, order_id, order, db_json)


def _as_is(value: Any) -> Any:
    return value


def _columns(key: Any, order_id: str, order: dict[str, Any], as_json: Callable[[Any], Any]) -> tuple:
    """Every column of the view, derived ones included: the row and the as-of view are built here alone."""
    items = order["items"]
    total = sum((Decimal(line["line_total"]) for line in items), Decimal("0.00"))
    search = "\n".join([order["customer_id"], *(f"{line['product_id']}\n{line['name']}" for line in items)]).lower()
    return (
        key,
        order_id,
        order["customer_id"],
        order["status"],
        as_json(items),
        sum(line["quantity"] for line in items),
        money(total),
        as_json(order["shipping_address"]),
        order["created_at"],
        order["shipped_at"],
        order["cancelled_at"],
        order["cancel_reason"],
        order["cancelled_by"],
        order["version"],
        search,
    )

"""CatalogueProjection: one row per product with price and stock (on_hand, reserved, available)."""

from collections.abc import Sequence
from typing import Any, ClassVar

from eventstore.log.append import RecordedEvent
from eventstore.projections.base import Target, register
from eventstore.projections.keyed import KeyedProjection
from eventstore.projections.sql import fetch, money
from orders_read.models import ProductView
from orders_write.events import (
    PriceChanged,
    ProductRegistered,
    StockReceived,
    StockReleased,
    StockReserved,
    StockShipped,
)

COLUMNS = ("product_id", "sku", "name", "description", "price", "on_hand", "reserved", "available", "version")
_FOLDED = ("name", "description", "price", "on_hand", "reserved", "version")


class ProductBeforeRegistration(ValueError):
    """A stock or price event for a product the catalogue has never seen registered."""


@register
class CatalogueProjection(KeyedProjection):
    """Stock semantics per API.md: reserve/release move `reserved`, shipping takes from both."""

    name: ClassVar[str] = "catalogue"
    version: ClassVar[int] = 1
    handles = (ProductRegistered, StockReceived, PriceChanged, StockReserved, StockReleased, StockShipped)
    models = (ProductView,)
    model = ProductView
    columns = COLUMNS
    key = "product_id"

    def keys(self, batch: Sequence[RecordedEvent]) -> tuple[set[str], set[str]]:
        return (
            {e.data["product_id"] for e in batch},
            {e.data["product_id"] for e in batch if e.event_type == "ProductRegistered"},
        )

    def load(self, target: Target, keys: set[str]) -> dict[str, dict[str, Any]]:
        return {
            row[0]: dict(zip(_FOLDED, row[1:], strict=True))
            for row in fetch(target, target.table(ProductView), ("product_id", *_FOLDED), "product_id", keys)
        }

    def fold(self, rows: dict[str, dict[str, Any]], batch: Sequence[RecordedEvent], target: Target) -> None:
        for event in batch:
            evolve(rows, event)

    def rows(self, folded: dict[str, dict[str, Any]], target: Target) -> list[tuple]:
        return [_columns(sku, p) for sku, p in folded.items()]


def evolve(products: dict[str, dict[str, Any]], event: RecordedEvent) -> None:
    """Fold one event into the rows of a batch, keyed by sku."""
    sku = event.data["product_id"]
    products[sku] = evolve_product(products.get(sku), event)


def evolve_product(product: dict[str, Any] | None, event: RecordedEvent) -> dict[str, Any]:
    """One product's state after `event` (None before its ProductRegistered): what the catalogue shows.

    The one transition both readers of the log use: the projection folds its batches with
    it, and the as-of queries (orders_read/as_of.py) fold one stream up to a version with
    it, so the product "as of now" and the live row cannot differ. No I/O. The state is
    updated in place and returned (a rebuild folds millions of events; copies would slow it).
    """
    data = event.data
    if event.event_type == "ProductRegistered":
        return {
            "name": data["name"],
            "description": data.get("description") or "",
            "price": data["price"],
            "on_hand": 0,
            "reserved": 0,
            "version": event.version,
        }
    if product is None:
        raise ProductBeforeRegistration(
            f"{event.event_type} at position {event.position} for unknown {data['product_id']!r}"
        )
    match event.event_type:
        case "StockReceived":
            product["on_hand"] += int(data["quantity"])
        case "PriceChanged":
            product["price"] = data["new_price"]
        case "StockReserved":
            product["reserved"] += int(data["quantity"])
        case "StockReleased":
            product["reserved"] -= int(data["quantity"])
        case "StockShipped":
            product["on_hand"] -= int(data["quantity"])
            product["reserved"] -= int(data["quantity"])
        case other:
            raise ValueError(f"catalogue does not handle {other}")
    product["version"] = event.version
    return product


def product_fields(sku: str, product: dict[str, Any]) -> dict[str, Any]:
    """The view's columns of a folded product, by field name (a ProductView's kwargs)."""
    return dict(zip(COLUMNS, _columns(sku, product), strict=True))


def _columns(sku: str, p: dict[str, Any]) -> tuple:
    """Every column of the catalogue row, `available` included: the row and the as-of view are built here alone."""
    return (
        sku,
        sku,
        p["name"],
        p["description"],
        money(p["price"]),
        p["on_hand"],
        p["reserved"],
        p["on_hand"] - p["reserved"],
        p["version"],
    )

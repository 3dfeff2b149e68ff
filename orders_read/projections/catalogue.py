"""CatalogueProjection: one row per product with price and stock (on_hand, reserved, available)."""

from collections.abc import Sequence
from typing import Any, ClassVar

from eventstore.projections import Target, register
from eventstore.store import RecordedEvent
from orders_read.models import ProductView
from orders_read.projections.keyed import KeyedProjection
from orders_read.projections.sql import fetch, money
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
        return ({e.data["product_id"] for e in batch},
                {e.data["product_id"] for e in batch if e.event_type == "ProductRegistered"})

    def load(self, target: Target, keys: set[str]) -> dict[str, dict[str, Any]]:
        return {
            row[0]: dict(zip(_FOLDED, row[1:], strict=True))
            for row in fetch(target, target.table(ProductView), ("product_id", *_FOLDED), "product_id", keys)
        }

    def fold(self, rows: dict[str, dict[str, Any]], batch: Sequence[RecordedEvent], target: Target) -> None:
        for event in batch:
            _evolve(rows, event)

    def rows(self, folded: dict[str, dict[str, Any]], target: Target) -> list[tuple]:
        return [
            (sku, sku, p["name"], p["description"], money(p["price"]), p["on_hand"], p["reserved"],
             p["on_hand"] - p["reserved"], p["version"])
            for sku, p in folded.items()
        ]


def _evolve(products: dict[str, dict[str, Any]], event: RecordedEvent) -> None:
    data = event.data
    sku = data["product_id"]
    if event.event_type == "ProductRegistered":
        products[sku] = {"name": data["name"], "description": data.get("description") or "",
                         "price": data["price"], "on_hand": 0, "reserved": 0, "version": event.version}
        return
    product = products.get(sku)
    if product is None:
        raise ProductBeforeRegistration(f"{event.event_type} at position {event.position} for unknown {sku!r}")
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

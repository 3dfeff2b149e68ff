"""CatalogueProjection: one row per product with price and stock (on_hand, reserved, available)."""

from collections.abc import Sequence
from typing import Any, ClassVar

from eventstore.projections import Projection, Target, register
from eventstore.store import RecordedEvent
from orders_read.models import ProductView
from orders_read.projections.sql import fetch, money, upsert
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
class CatalogueProjection(Projection):
    """Stock semantics per API.md: reserve/release move `reserved`, shipping takes from both."""

    name: ClassVar[str] = "catalogue"
    version: ClassVar[int] = 1
    handles = (ProductRegistered, StockReceived, PriceChanged, StockReserved, StockReleased, StockShipped)
    models = (ProductView,)

    def apply(self, batch: Sequence[RecordedEvent], target: Target) -> None:
        table = target.table(ProductView)
        skus = {e.data["product_id"] for e in batch}
        registered_here = {e.data["product_id"] for e in batch if e.event_type == "ProductRegistered"}
        products: dict[str, dict[str, Any]] = {
            row[0]: dict(zip(_FOLDED, row[1:], strict=True))
            for row in fetch(target, table, ("product_id", *_FOLDED), "product_id", skus - registered_here)
        }
        for event in batch:
            _evolve(products, event)
        rows = [
            (sku, sku, p["name"], p["description"], money(p["price"]), p["on_hand"], p["reserved"],
             p["on_hand"] - p["reserved"], p["version"])
            for sku, p in products.items()
        ]
        upsert(target, ProductView, COLUMNS, rows, key="product_id")


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

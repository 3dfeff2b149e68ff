"""CatalogueProjection: one row per product with price and stock (on_hand, reserved, available)."""

from collections.abc import Sequence
from typing import Any, ClassVar, Final, assert_never

from eventstore.log.read import Recorded
from eventstore.projections.base import Target, register
from eventstore.projections.keyed import KeyedProjection
from eventstore.projections.sql import fetch, money
from orders_read.models import ProductView
from orders_write.events import (
    PRODUCT_EVENTS,
    PriceChanged,
    ProductEvent,
    ProductRegistered,
    StockReceived,
    StockReleased,
    StockReserved,
    StockShipped,
)

_REGISTERED: Final = ProductRegistered.event_type()
PRODUCT_KEY: Final = "product_id"
"""The field by which every product event names its product (a unit test holds each contract to it)."""

COLUMNS = ("product_id", "sku", "name", "description", "price", "on_hand", "reserved", "available", "version")
_FOLDED = ("name", "description", "price", "on_hand", "reserved", "version")


class ProductBeforeRegistration(ValueError):
    """A stock or price event for a product the catalogue has never seen registered."""


@register
class CatalogueProjection(KeyedProjection):
    """Stock semantics per API.md: reserve/release move `reserved`, shipping takes from both."""

    name: ClassVar[str] = "catalogue"
    version: ClassVar[int] = 1
    handles = PRODUCT_EVENTS
    models = (ProductView,)
    model = ProductView
    columns = COLUMNS
    key = "product_id"

    def keys(self, batch: Sequence[Recorded]) -> tuple[set[str], set[str]]:
        # The key is read from the raw payload, not a typed event: the fold decodes each event, once.
        return (
            {e.data[PRODUCT_KEY] for e in batch},
            {e.data[PRODUCT_KEY] for e in batch if e.event_type == _REGISTERED},
        )

    def load(self, target: Target, keys: set[str]) -> dict[str, dict[str, Any]]:
        return {
            row[0]: dict(zip(_FOLDED, row[1:], strict=True))
            for row in fetch(target, target.table(ProductView), ("product_id", *_FOLDED), "product_id", keys)
        }

    def fold(self, rows: dict[str, dict[str, Any]], batch: Sequence[Recorded], target: Target) -> None:
        for recorded in batch:
            evolve(rows, recorded)

    def rows(self, folded: dict[str, dict[str, Any]], target: Target) -> list[tuple]:
        return [_columns(sku, p) for sku, p in folded.items()]


def product_event(recorded: Recorded) -> ProductEvent:
    """The typed product event of a recorded one; ValueError for a type the catalogue does not handle."""
    event = recorded.to_domain()
    if not isinstance(event, PRODUCT_EVENTS):
        raise ValueError(f"catalogue does not handle {recorded.event_type}")
    return event


def evolve(products: dict[str, dict[str, Any]], recorded: Recorded) -> None:
    """Fold one event into the rows of a batch, keyed by sku."""
    event = product_event(recorded)
    products[event.product_id] = evolve_product(products.get(event.product_id), event, recorded)


def fold_product(product: dict[str, Any] | None, recorded: Recorded) -> dict[str, Any]:
    """`evolve_product` of a recorded event: the step of one stream's fold (as-of queries)."""
    return evolve_product(product, product_event(recorded), recorded)


def evolve_product(product: dict[str, Any] | None, event: ProductEvent, recorded: Recorded) -> dict[str, Any]:
    """One product's state after `event` (None before its ProductRegistered): what the catalogue shows.

    The one transition both readers of the log use: the projection folds its batches with
    it, and the as-of queries (orders_read/as_of.py) fold one stream up to a version with
    it, so the product "as of now" and the live row cannot differ. No I/O. The state is
    updated in place and returned (a rebuild folds millions of events; copies would slow it).
    """
    match event:
        case ProductRegistered():
            return {
                "name": event.name,
                "description": event.description or "",
                "price": event.price,
                "on_hand": 0,
                "reserved": 0,
                "version": recorded.version,
            }
        case StockReceived():
            product = _registered(product, recorded, event.product_id)
            product["on_hand"] += event.quantity
        case PriceChanged():
            product = _registered(product, recorded, event.product_id)
            product["price"] = event.new_price
        case StockReserved():
            product = _registered(product, recorded, event.product_id)
            product["reserved"] += event.quantity
        case StockReleased():
            product = _registered(product, recorded, event.product_id)
            product["reserved"] -= event.quantity
        case StockShipped():
            product = _registered(product, recorded, event.product_id)
            product["on_hand"] -= event.quantity
            product["reserved"] -= event.quantity
        case _:
            assert_never(event)
    product["version"] = recorded.version
    return product


def _registered(product: dict[str, Any] | None, recorded: Recorded, sku: str) -> dict[str, Any]:
    if product is None:
        raise ProductBeforeRegistration(f"{recorded.event_type} at position {recorded.position} for unknown {sku!r}")
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

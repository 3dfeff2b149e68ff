"""Time travel: an order or a product as it stood right after one event of its stream.

DESIGN.md: a view as of a version or a time is the projection's own fold over that
stream's events up to there, so "as of now" and the live view cannot differ. The stream
is read from the log (eventstore's `read_stream`, as the order history does; a long
stream's events are kept between requests, orders_read/stream_cache.py), folded with the
per-stream transition the projection itself applies (`evolve_order`, `evolve_product`),
and turned into the view model's fields by the function that builds the projection's
table row. The result is an unsaved view-model instance, so the API serializes it with
the current view's serializer.
"""

from bisect import bisect_right
from collections.abc import Callable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, Final
from uuid import UUID

from eventstore.log.append import RecordedEvent
from orders_read.models import OrderSummary, ProductView
from orders_read.projections.catalogue import CatalogueProjection, fold_product, product_fields
from orders_read.projections.order_summary import (
    OrderSummaryProjection,
    evolve_order,
    order_event,
    order_fields,
)
from orders_read.stream_cache import STREAMS

ORDER_EVENTS: Final = OrderSummaryProjection.handled_types()
PRODUCT_EVENTS: Final = CatalogueProjection.handled_types()


class NoSuchPoint(LookupError):
    """The stream has no event at the point asked for: below 1, beyond its end, or before its first event."""


def cut(events: Sequence[RecordedEvent], *, version: int | None = None, at: datetime | None = None) -> int:
    """How many of the stream's events (in version order) the view as of `version` or `at` has seen.

    `version`: the state right after event N. `at`: the state after the last event recorded
    at or before that time (the highest version whose `recorded_at` is not later). Exactly
    one of the two is given. Raises NoSuchPoint when the stream has no such point.
    """
    if (version is None) == (at is None):
        raise ValueError("give exactly one of version and at")
    if version is not None:
        if not events or not 1 <= version <= events[-1].version:
            raise NoSuchPoint(f"The stream has no version {version}.")
        return bisect_right(events, version, key=attrgetter("version"))
    assert at is not None
    for index in range(len(events) - 1, -1, -1):
        if events[index].recorded_at <= at:
            return index + 1
    raise NoSuchPoint(f"The stream has no event recorded at or before {at.isoformat()}.")


def fold(
    events: Sequence[RecordedEvent],
    handles: frozenset[str],
    evolve: Callable[[dict[str, Any] | None, RecordedEvent], dict[str, Any]],
) -> dict[str, Any] | None:
    """The state after `events`, folded by the projection's transition (events it does not handle skipped)."""
    state: dict[str, Any] | None = None
    for event in events:
        if event.event_type in handles:
            state = evolve(state, event)
    return state


def order_as_of(order_id: UUID, events: Sequence[RecordedEvent], seen: int) -> OrderSummary:
    """The order view after the first `seen` events of its stream."""
    state = fold(events[:seen], ORDER_EVENTS, _evolve_order)
    if state is None:
        raise NoSuchPoint("The order did not exist yet.")
    return OrderSummary(**order_fields(str(order_id), state))


def product_as_of(sku: str, events: Sequence[RecordedEvent], seen: int) -> ProductView:
    """The catalogue row after the first `seen` events of the product's stream."""
    state = fold(events[:seen], PRODUCT_EVENTS, fold_product)
    if state is None:
        raise NoSuchPoint("The product did not exist yet.")
    return ProductView(**product_fields(sku, state))


def order_events(order_id: UUID) -> list[RecordedEvent]:
    return STREAMS.events(f"Order-{order_id}")


def product_events(sku: str) -> list[RecordedEvent]:
    return STREAMS.events(f"Product-{sku}")


def _evolve_order(order: dict[str, Any] | None, recorded: RecordedEvent) -> dict[str, Any]:
    return evolve_order(order, order_event(recorded), recorded, _as_is)


def _as_is(at: datetime) -> datetime:
    """Times stay datetimes: the view model holds them as the ORM would have read them back."""
    return at

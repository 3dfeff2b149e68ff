"""The query bus, twin of the command bus: `ask(query)` finds the one handler and runs it.

Everything every query needs lives here once: read-your-writes waiting (which
projections back which query), the viewer's access rules (a customer sees only their
own orders; anything else is a 404, never a 403) and timing metrics.
"""

import time
from dataclasses import dataclass
from typing import Any, Final, Literal

from django.db.models import QuerySet
from prometheus_client import Histogram

from eventstore.errors import InvalidCheckpoint
from eventstore.log.positions import Checkpoint
from eventstore.log.read import is_recorded
from eventstore.projections.consistency import DEFAULT_TIMEOUT, wait_until_passed
from orders_read.queries import (
    HANDLERS,
    GetCustomerOrders,
    GetDailySales,
    GetOrderAsOf,
    GetOrderById,
    GetOrderHistory,
    GetProduct,
    GetProductAsOf,
    GetProjectionStatus,
    ListOrders,
    NotAtThatPoint,
    NotFoundError,
    OrderHistory,
    Query,
    SearchOrders,
    SearchProducts,
)

QUERY_SECONDS: Final = Histogram(
    "orders_read_query_seconds",
    "Time to answer a query, waiting for consistency included",
    ["query"],
)

BACKED_BY: Final[dict[type[Query], tuple[str, ...]]] = {
    GetOrderById: ("order_summary",),
    ListOrders: ("order_summary",),
    GetCustomerOrders: ("order_summary",),
    SearchOrders: ("order_summary",),
    GetProduct: ("catalogue",),
    SearchProducts: ("catalogue",),
    GetDailySales: ("daily_sales",),
    GetOrderHistory: (),  # read from the log: always fresh
    GetOrderAsOf: (),  # folded from the log
    GetProductAsOf: (),
    GetProjectionStatus: (),
}
"""Which projections must have passed a consistency token before a query answers."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asks: staff see everything, a customer (by username) only their own orders."""

    username: str | None
    is_staff: bool = False

    @classmethod
    def of(cls, user: Any) -> "Viewer":
        if user is None or not getattr(user, "is_authenticated", False):
            return cls(None, False)
        return cls(user.get_username(), bool(user.is_staff))


@dataclass(frozen=True, slots=True)
class Answer:
    result: Any
    consistency: Literal["fresh", "stale"] | None
    """None when no token was given."""


def ask(query: Query, *, viewer: Viewer, after: Checkpoint | None = None, timeout: float = DEFAULT_TIMEOUT) -> Answer:
    """Answer `query` for `viewer`, first waiting (up to `timeout`) for projections to pass `after`.

    A token no command was ever given (beyond the log's head, or made up) is refused at
    once with InvalidCheckpoint (a 400) instead of holding the request for the timeout.
    """
    started = time.perf_counter()
    try:
        consistency: Literal["fresh", "stale"] | None = None
        if after is not None and not is_recorded(after):
            raise InvalidCheckpoint(f"consistency token {after.token()!r} names no event in the log")
        if after is not None:
            fresh = wait_until_passed(after, BACKED_BY[type(query)], timeout)
            consistency = "fresh" if fresh else "stale"
        handler = HANDLERS[type(query)]
        if isinstance(query, GetCustomerOrders) and not _may_see(viewer, query.customer_id):
            raise NotFoundError("No such customer.")
        return Answer(_scoped(_answer(handler, query, viewer), viewer), consistency)
    finally:
        QUERY_SECONDS.labels(type(query).__name__).observe(time.perf_counter() - started)


def _answer(handler: Any, query: Query, viewer: Viewer) -> Any:
    """The handler's result; why an order has no state at a point is told only to those who may see it."""
    try:
        return handler(query)
    except NotAtThatPoint as missing:
        if missing.owner is not None and not _may_see(viewer, missing.owner):
            raise NotFoundError("No such order.") from None
        raise


def _may_see(viewer: Viewer, customer_id: str | None) -> bool:
    return viewer.is_staff or (viewer.username is not None and viewer.username == customer_id)


def _scoped(result: Any, viewer: Viewer) -> Any:
    """Apply the access rule to whatever the handler returned."""
    if isinstance(result, QuerySet) and hasattr(result.model, "customer_id"):
        return result if viewer.is_staff else result.filter(customer_id=viewer.username or "")
    if isinstance(result, OrderHistory):
        if not _may_see(viewer, result.customer_id):
            raise NotFoundError("No such order.")
        return result
    customer_id = getattr(result, "customer_id", None)
    if customer_id is not None and not _may_see(viewer, customer_id):
        raise NotFoundError("No such order.")
    return result

"""The query bus, twin of the command bus: `ask(query)` finds the query's route and runs it.

`ROUTES` is the one registry of the read side: for every query its handler, the
projections that must have passed a consistency token before it answers, its access
scope (orders_read/access.py) and, for a list, the FilterSet that narrows it. A query
without a route, or a route without a scope, is a startup error (`check_routes`, run
as a Django system check), so no query can be answered without a declared access
rule. List queries answer with a `Page` (orders_read/pages.py). Timing metrics are
kept here too, so every query gets them the same way.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from prometheus_client import Histogram

from eventstore.errors import InvalidCheckpoint
from eventstore.log.positions import Checkpoint
from eventstore.log.read import is_recorded
from eventstore.projections.consistency import DEFAULT_TIMEOUT, wait_until_passed
from orders_read import filters
from orders_read import queries as q
from orders_read.access import Handler, OwnedResult, OwnedRows, OwnerInQuery, Public, Scope, StaffOnly, Viewer
from orders_read.errors import NotFoundError
from orders_read.pages import Page, paginate

__all__ = ["ROUTES", "Answer", "Route", "Viewer", "ask", "check_routes"]

QUERY_SECONDS: Final = Histogram(
    "orders_read_query_seconds",
    "Time to answer a query, waiting for consistency included",
    ["query"],
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """How one query is answered, and under which rules."""

    handler: Handler
    backed_by: tuple[str, ...]
    """Projections that must have passed a consistency token first (none: read from the log, always fresh)."""
    scope: Scope
    filterset: type[filters.ListFilterSet] | None = None
    """For a list query: validates and applies its `filters` before the page is cut."""

    def __post_init__(self) -> None:
        if not isinstance(self.scope, Scope):
            raise ImproperlyConfigured(f"the route to {self.handler.__name__} declares no access scope")


ROUTES: Final[dict[type[q.Query], Route]] = {
    q.GetOrderById: Route(handler=q.get_order_by_id, backed_by=("order_summary",), scope=OwnedResult()),
    q.ListOrders: Route(
        handler=q.list_orders, backed_by=("order_summary",), scope=OwnedRows(), filterset=filters.OrderListFilter
    ),
    q.GetCustomerOrders: Route(
        handler=q.get_customer_orders,
        backed_by=("order_summary",),
        scope=OwnerInQuery(),
        filterset=filters.CustomerOrdersFilter,
    ),
    q.SearchOrders: Route(
        handler=q.search_orders, backed_by=("order_summary",), scope=OwnedRows(), filterset=filters.OrderSearchFilter
    ),
    q.GetProduct: Route(handler=q.get_product, backed_by=("catalogue",), scope=Public()),
    q.SearchProducts: Route(
        handler=q.search_products, backed_by=("catalogue",), scope=Public(), filterset=filters.ProductFilter
    ),
    q.GetDailySales: Route(
        handler=q.get_daily_sales, backed_by=("daily_sales",), scope=StaffOnly(), filterset=filters.DailySalesFilter
    ),
    q.GetOrderHistory: Route(handler=q.get_order_history, backed_by=(), scope=OwnedResult()),
    q.GetOrderAsOf: Route(handler=q.get_order_as_of, backed_by=(), scope=OwnedResult()),
    q.GetProductAsOf: Route(handler=q.get_product_as_of, backed_by=(), scope=Public()),
    q.GetProjectionStatus: Route(handler=q.get_projection_status, backed_by=(), scope=StaffOnly()),
}


@dataclass(frozen=True, slots=True)
class Answer:
    result: Any
    consistency: Literal["fresh", "stale"] | None
    """None when no token was given."""


def ask(query: q.Query, *, viewer: Viewer, after: Checkpoint | None = None, timeout: float = DEFAULT_TIMEOUT) -> Answer:
    """Answer `query` for `viewer`, first waiting (up to `timeout`) for projections to pass `after`.

    A token no command was ever given (beyond the log's head, or made up) is refused at
    once with InvalidCheckpoint (a 400) instead of holding the request for the timeout.
    """
    started = time.perf_counter()
    try:
        route = ROUTES[type(query)]
        consistency: Literal["fresh", "stale"] | None = None
        if after is not None and not is_recorded(after):
            raise InvalidCheckpoint(f"consistency token {after.token()!r} names no event in the log")
        if after is not None:
            consistency = "fresh" if wait_until_passed(after, route.backed_by, timeout) else "stale"
        try:
            result = route.scope.answer(route.handler, query, viewer)
            if isinstance(query, q.ListQuery):
                result = _page(result, route, query)
        except NotFoundError as missing:
            missing.consistency = consistency
            raise
        return Answer(result, consistency)
    finally:
        QUERY_SECONDS.labels(type(query).__name__).observe(time.perf_counter() - started)


def _page(rows: Any, route: Route, query: q.ListQuery) -> Page[Any]:
    """The page `query` asks for; of a `Preferred` answer, its preferred rows' unless none match anywhere."""
    if not isinstance(rows, q.Preferred):
        return paginate(_narrowed(rows, route, query), query.page)
    try:
        page = paginate(_narrowed(rows.rows, route, query), query.page)
    except NotFoundError:  # a page past the end: the answer, if the preferred rows stand
        if rows.matched_anywhere():
            raise
    else:
        if page.items or rows.matched_anywhere():
            return page
    return paginate(_narrowed(rows.otherwise, route, query), query.page)


def _narrowed(rows: Any, route: Route, query: q.ListQuery) -> Any:
    return rows if route.filterset is None else route.filterset.narrow(query.filters, rows)


def check_routes(
    routes: dict[type, Route], queries: Iterable[type], projections: Iterable[str]
) -> list[checks.CheckMessage]:
    """Every query has a route (a route cannot be built without a scope), and every projection it waits for exists."""
    known = set(projections)
    errors: list[checks.CheckMessage] = []
    for query in queries:
        route = routes.get(query)
        if route is None:
            errors.append(
                checks.Error(f"{query.__name__} has no route (handler and access scope)", id="orders_read.E001")
            )
        elif missing := sorted(set(route.backed_by) - known):
            errors.append(
                checks.Error(f"{query.__name__} waits for unknown projections {missing}", id="orders_read.E002")
            )
    return errors


def defined_queries() -> list[type[q.Query]]:
    """Every query type orders_read/queries.py defines (the bases excepted)."""
    return [
        value
        for value in vars(q).values()
        if isinstance(value, type) and issubclass(value, q.Query) and value not in (q.Query, q.ListQuery)
    ]


def routes_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The system check `manage.py check` and every server start run (orders_read/apps.py registers it)."""
    from eventstore.projections.base import all_projections

    return check_routes(ROUTES, defined_queries(), [p.name for p in all_projections()])

"""The queries of the read side: immutable query objects and one handler each.

Handlers read only view models (history and the as-of views read the log) and may return lazy querysets,
so the bus filters and paginates them in the database. Which handler answers which
query, access rules and read-your-writes waiting are not here but in the bus
(orders_read/bus.py), so every query gets them the same way.
"""

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from django.db.models import Q, QuerySet

from eventstore.backends import recorder_for
from eventstore.log.append import RecordedEvent, read_stream
from eventstore.projections.status import ProjectionStatus, projection_statuses
from eventstore.routers import read_db_alias
from eventstore.tamper.reader import stream_hashes
from orders_read import as_of
from orders_read.errors import NotAtThatPoint, NotFoundError
from orders_read.models import DailySales, OrderSummary, ProductView
from orders_read.pages import PageRequest
from orders_read.rows import by_key
from orders_read.search import prefix_tsquery, search_words, whole_words_tsquery


class Query:
    """Base of every query object (frozen dataclasses, keyword-only)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListQuery(Query):
    """Base of the queries answered with a page: `filters` narrow the list (the route's FilterSet reads them)."""

    filters: Mapping[str, Any] = field(default_factory=dict)
    page: PageRequest = field(default_factory=PageRequest)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetOrderById(Query):
    order_id: uuid.UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class ListOrders(ListQuery):
    """Every order the viewer may see; the API filters and orders it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetCustomerOrders(ListQuery):
    customer_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchOrders(ListQuery):
    q: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetProduct(Query):
    sku: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchProducts(ListQuery):
    search: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class GetDailySales(ListQuery):
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetOrderHistory(Query):
    order_id: uuid.UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class GetOrderAsOf(Query):
    """The order view right after its stream's event `version`, or after the last one recorded by `at`."""

    order_id: uuid.UUID
    version: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetProductAsOf(Query):
    """The product view right after its stream's event `version`, or after the last one recorded by `at`."""

    sku: str
    version: int | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GetProjectionStatus(ListQuery):
    """Where every projection stands, and how far behind the log it is."""


@dataclass(frozen=True, slots=True)
class HashedEvent(RecordedEvent):
    """A logged event with its `hash`, the SHA-256 chaining it to the stream's previous event."""

    hash: str


@dataclass(frozen=True, slots=True)
class OrderHistory:
    customer_id: str | None
    events: list[RecordedEvent]


def get_order_by_id(query: GetOrderById) -> OrderSummary:
    order = by_key(OrderSummary, query.order_id)
    if order is None:
        raise NotFoundError("No such order.")
    return order


def list_orders(query: ListOrders) -> QuerySet[OrderSummary]:
    return OrderSummary.objects.all()


def get_customer_orders(query: GetCustomerOrders) -> QuerySet[OrderSummary]:
    return OrderSummary.objects.filter(customer_id=query.customer_id).order_by("-created_at", "order_id")


def search_orders(query: SearchOrders) -> QuerySet[OrderSummary]:
    """Id prefix, or a substring of the customer or a line's sku/name, ignoring case.

    `search_text` is stored lower-cased, so `contains` on the lowered term is the
    case-insensitive match and can use the trigram GIN index on PostgreSQL.
    """
    orders = OrderSummary.objects.all()
    term = query.q.strip().lower()
    if not term:
        return orders
    return orders.filter(Q(order_key__startswith=term) | Q(search_text__contains=term))


def get_product(query: GetProduct) -> ProductView:
    product = by_key(ProductView, query.sku)
    if product is None:
        raise NotFoundError("No such product.")
    return product


@dataclass(frozen=True, slots=True, kw_only=True)
class Preferred:
    """A list answered from `rows` unless no row of the table matches them at all, then from `otherwise`.

    The bus pages `rows` first (its filters and order applied), and only when that page
    is empty asks `matched_anywhere` (the table before any filter), so the common case,
    where the preferred rows exist, is one statement with no probe in it. Only for public
    rows: an access scope narrows a queryset, not this.
    """

    rows: QuerySet[Any]
    matched_anywhere: Callable[[], bool]
    otherwise: QuerySet[Any]


def search_products(query: SearchProducts) -> QuerySet[ProductView] | Preferred:
    """Every word of the search must match sku, name or description (orders_read/search.py).

    PostgreSQL, through the GIN index on the tsvector, best matches first: the words as
    whole words when the catalogue has a product with them all, else each word as a
    prefix (a word still being typed: `bow` finds "Bowl"). Whole words first because a
    prefix of a common word ("mug": "mugs", "mugster", ...) can match many times more
    products, and ranking and counting them all put the large catalogue's p99 at 4x the
    small one's. The whole-word page is asked first (`Preferred`): when it has a row, the
    catalogue has the words and nothing else is asked; only an empty page asks whether
    any product (filters aside) has them all, and if none does, the prefix page answers.
    SQLite: each word as a case-insensitive substring. A blank search is no filter; a
    search with no word in it (`&&&`) finds nothing.
    """
    products = ProductView.objects.all()
    if not query.search.strip():
        return products
    words = search_words(query.search)
    if not words:
        return products.none()
    if recorder_for(read_db_alias()).full_text_search:
        whole = whole_words_tsquery(words)
        return Preferred(
            rows=_matching(products, whole),
            matched_anywhere=lambda: products.extra(where=[_MATCHES], params=[whole]).exists(),
            otherwise=_matching(products, prefix_tsquery(words)),
        )
    every_word = Q()
    for word in words:
        every_word &= Q(sku__icontains=word) | Q(name__icontains=word) | Q(description__icontains=word)
    return products.filter(every_word)


_MATCHES = "search_vector @@ to_tsquery('simple', %s)"


def _matching(products: QuerySet[ProductView], tsquery: str) -> QuerySet[ProductView]:
    """The products matching `tsquery`, best ranked first.

    Ordering by rank (not an indexed column) also keeps the plan on the GIN index:
    ordered by product_id, PostgreSQL walks the primary key and filters row by row until
    a page is full, which grows with the catalogue. An explicit `ordering` replaces this
    order (orders_read/filters.py).
    """
    return products.extra(
        select={"rank": "ts_rank(search_vector, to_tsquery('simple', %s))"},
        select_params=[tsquery],
        where=[_MATCHES],
        params=[tsquery],
        order_by=["-rank", "product_id"],
    )


def get_daily_sales(query: GetDailySales) -> QuerySet[DailySales]:
    days = DailySales.objects.order_by("date")
    if query.date_from is not None:
        days = days.filter(date__gte=query.date_from)
    if query.date_to is not None:
        days = days.filter(date__lte=query.date_to)
    return days


def get_order_history(query: GetOrderHistory) -> OrderHistory:
    stream_id = f"Order-{query.order_id}"
    events = read_stream(stream_id)
    if not events:
        raise NotFoundError("No such order.")
    created = next((e for e in events if e.event_type == "OrderCreated"), None)
    hashes = stream_hashes(stream_id)
    # Every RecordedEvent field in order, then the hash: more than mypy can count through the star.
    hashed: list[RecordedEvent] = [
        HashedEvent(*(getattr(e, f.name) for f in fields(RecordedEvent)), hashes.get(e.version, ""))  # type: ignore[call-arg]
        for e in events
    ]
    return OrderHistory(created.data.get("customer_id") if created else None, hashed)


def get_order_as_of(query: GetOrderAsOf) -> OrderSummary:
    """Folded from the log by the projection's own transition (orders_read/as_of.py)."""
    events = as_of.order_events(query.order_id)
    if not events:
        raise NotFoundError("No such order.")
    owner = events[0].data.get("customer_id", "")  # OrderCreated opens every order stream
    try:
        return as_of.order_as_of(query.order_id, events, as_of.cut(events, version=query.version, at=query.at))
    except as_of.NoSuchPoint as missing:
        raise NotAtThatPoint(str(missing), owner=owner) from None


def get_product_as_of(query: GetProductAsOf) -> ProductView:
    """Folded from the log by the projection's own transition (orders_read/as_of.py)."""
    events = as_of.product_events(query.sku)
    if not events:
        raise NotFoundError("No such product.")
    try:
        return as_of.product_as_of(query.sku, events, as_of.cut(events, version=query.version, at=query.at))
    except as_of.NoSuchPoint as missing:
        raise NotAtThatPoint(str(missing), owner=None) from None


def get_projection_status(query: GetProjectionStatus) -> list[ProjectionStatus]:
    """The same figures /metrics reports: both read eventstore/status.py, so they cannot disagree."""
    return projection_statuses()

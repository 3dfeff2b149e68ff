"""The query endpoints as their clients read them: what each answers, examples, and the errors it can give.

One class decorator per viewset, applied in api.py with one line, so the viewsets
stay about HTTP and this module about documentation. Error examples are
the messages the queries and the exception handler answer with.
"""

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from config.openapi import (
    STAFF_ONLY,
    THROTTLED,
    UNAUTHENTICATED,
    UNAVAILABLE,
    UNPAGINATED,
    ViewT,
    error,
    error_responses,
    field_errors,
)
from eventstore.projections.consistency import MAX_TIMEOUT
from orders_read import serializers

TAG_CATALOGUE, TAG_ORDERS, TAG_OPERATIONS = "catalogue", "orders", "operations"
ORDER_ID = "3f2c8a8e-5b1d-4c7a-9e0f-2a6b7c8d9e10"
ORDER = {
    "order_id": ORDER_ID,
    "customer_id": "alice",
    "status": "pending",
    "items": [
        {"product_id": "MUG-001", "name": "Enamel mug", "quantity": 2, "unit_price": "12.50", "line_total": "25.00"},
        {"product_id": "PLATE-7", "name": "Stoneware plate", "quantity": 1, "unit_price": "8.00", "line_total": "8.00"},
    ],
    "item_count": 3,
    "total_amount": "33.00",
    "shipping_address": {"name": "Alice Example", "street": "1 Main St", "city": "Oslo", "postcode": "0150"},
    "created_at": "2026-03-02T09:15:04.120000Z",
    "shipped_at": None,
    "cancelled_at": None,
    "cancel_reason": "",
    "version": 3,
}
PRODUCT = {
    "product_id": "MUG-001",
    "sku": "MUG-001",
    "name": "Enamel mug",
    "description": "Blue, 350 ml.",
    "price": "12.50",
    "on_hand": 40,
    "available": 38,
    "reserved": 2,
    "version": 4,
}
HISTORY_EVENT = {
    "position": 1208,
    "version": 1,
    "event_type": "OrderCreated",
    "recorded_at": "2026-03-02T09:15:04.120000Z",
    "data": {"order_id": ORDER_ID, "customer_id": "alice", "shipping_address": ORDER["shipping_address"]},
    "metadata": {"user": "alice", "correlation_id": "5b0e6f0c2d7e4a51a3c1f0d9e8b7a6c5"},
    "hash": "b7a93a25750bc41c53f4ce05a366cab736f10f8b604a2a447a9f8244a0b1befb",
}
SALES_DAY = {"date": "2026-03-02", "orders": 41, "units": 97, "revenue": "1204.50", "cancelled": 3}
PROJECTION = {
    "name": "order_summary",
    "status": "active",
    "checkpoint": "80731-1344",
    "lag_events": 0,
    "lag_seconds": 0.0,
    "last_error": "",
}

FRESHNESS = (
    " Send X-Consistency-Token with a command's token to read your own write: the answer waits until it "
    "includes that command and says so in X-Consistency (fresh or stale)."
)
PAGINATED = " Paginated with ?page= and ?page_size= (at most 100, default 20)."


def _param(name: str, description: str, kind: Any = OpenApiTypes.STR, enum: list[str] | None = None) -> Any:
    return OpenApiParameter(name, kind, OpenApiParameter.QUERY, description=description, enum=enum)


STATUS = _param("status", "Only orders in this status.", enum=["pending", "shipped", "cancelled"])
CUSTOMER = _param(
    "customer_id", "Staff: only this customer's orders. A customer sees only their own orders whatever this says."
)
CREATED_FROM = _param(
    "created_from", "Orders created at or after this ISO 8601 date or time (a date means its start, UTC)."
)
CREATED_TO = _param("created_to", "Orders created at or before this ISO 8601 date or time (a date means its end, UTC).")
Q = _param("q", "An order id prefix, or text in the customer or in any line's sku or name (up to 200 characters).")
SORT_BY = _param("sort_by", "Sort key (default created_at).", enum=["created_at", "total_amount", "status"])
SORT_ORDER = _param("sort_order", "Sort direction (default desc).", enum=["asc", "desc"])
SEARCH = _param(
    "search",
    "Words that must all match the sku, name or description; a word still being typed matches as a prefix.",
)
PAGE = _param("page", "A page number, from 1.", OpenApiTypes.INT)
PAGE_SIZE = _param("page_size", "Results per page, at most 100 (default 20).", OpenApiTypes.INT)
DATE_FROM = _param("date_from", "First day (YYYY-MM-DD), inclusive.", OpenApiTypes.DATE)
DATE_TO = _param("date_to", "Last day (YYYY-MM-DD), inclusive.", OpenApiTypes.DATE)


def _ok(serializer: Any, example: dict, summary: str) -> OpenApiResponse:
    return OpenApiResponse(
        serializer, examples=[OpenApiExample(summary, value=example, status_codes=["200"], response_only=True)]
    )


# Errors of every query; each query adds those of its own parameters.
BAD_TOKEN = error(
    400,
    "invalid_consistency_token",
    "malformed consistency token 'abc'; expected '<txid>-<position>'",
    label="malformed token",
    summary="X-Consistency-Token is not a token",
)
UNKNOWN_TOKEN = error(
    400,
    "invalid_consistency_token",
    "consistency token '80731-99999' names no event in the log",
    label="token beyond the log",
    summary="no command gave this token",
)
BAD_TIMEOUT = error(
    400,
    "invalid_consistency_timeout",
    f"X-Consistency-Timeout must be a number of seconds between 0 and {MAX_TIMEOUT:g}.",
    summary="timeout out of range",
)
EVERY_QUERY = (BAD_TOKEN, UNKNOWN_TOKEN, BAD_TIMEOUT, THROTTLED, UNAVAILABLE)
BAD_AS_OF = error(400, "invalid_as_of", "as_of_version must be an integer.", summary="as_of_version is no integer")
NO_ORDER = error(404, "not_found", "No such order.", summary="no such order, or someone else's")
NO_PRODUCT = error(404, "not_found", "No such product.", summary="no such product")
NO_VERSION = error(
    404, "not_found", "The stream has no version 99.", label="not at that point", summary="as_of beyond the stream"
)


V = TypeVar("V", bound=type)


def on_methods(**schemas: Callable[[Any], Any]) -> Callable[[V], V]:
    """A class decorator giving each named method its schema.

    The routes call plain viewset methods (`search`, `history`), not @actions, and
    `extend_schema_view` finds only the latter; `extend_schema` on the method itself
    works for both, layered over what the method already declares.
    """

    def decorate(view: V) -> V:
        for name, schema in schemas.items():
            schema(view.__dict__[name])  # marks the function in place
        return view

    return decorate


def _bad_choice(name: str, value: str) -> OpenApiExample:
    return field_errors(
        f"bad {name}",
        {name: [f"Select a valid choice. {value} is not one of the available choices."]},
        summary=f"unknown {name}",
    )


def _query(
    summary: str,
    description: str,
    tag: str,
    ok: OpenApiResponse,
    *refusals: OpenApiExample,
    paginated: bool = True,
    parameters: list[OpenApiParameter] | None = None,
) -> Callable[[ViewT], ViewT]:
    return extend_schema(
        parameters=parameters,
        summary=summary,
        description=description,
        tags=[tag],
        responses={200: ok, **error_responses(*refusals, *EVERY_QUERY)},
        extensions=None if paginated else {UNPAGINATED: True},
    )


order_views = on_methods(
    retrieve=_query(
        "Get an order",
        "One order as its owner or staff sees it; the ETag is its version. With ?as_of_version=N the order "
        "right after its event N, or with ?as_of=<time> as it was then, folded from the log, in the same "
        "shape, with X-As-Of-Version." + FRESHNESS,
        TAG_ORDERS,
        _ok(serializers.OrderSerializer, ORDER, "a pending order"),
        BAD_AS_OF,
        UNAUTHENTICATED,
        NO_ORDER,
        NO_VERSION,
    ),
    list=_query(
        "List orders",
        "Customers see their own orders, staff everyone's (narrowed by ?customer_id=). Filter by ?status=; "
        "sort with ?ordering= one of created_at, total_amount, status, with - for descending." + PAGINATED + FRESHNESS,
        TAG_ORDERS,
        _ok(serializers.OrderSerializer(many=True), ORDER, "one page of orders"),
        _bad_choice("ordering", "foo"),
        UNAUTHENTICATED,
        parameters=[CUSTOMER],
    ),
    search=_query(
        "Search orders",
        "Orders whose id starts with ?q=, or whose customer or any line's sku or name contains it (case "
        "insensitive), narrowed by ?status=, ?customer_id= (staff) and ?created_from= / ?created_to= "
        "(ISO 8601, inclusive); sorted by ?sort_by= created_at, total_amount or status and ?sort_order= "
        "asc or desc (newest first by default)." + PAGINATED + FRESHNESS,
        TAG_ORDERS,
        _ok(serializers.OrderSerializer(many=True), ORDER, "one page of matches"),
        _bad_choice("sort_by", "foo"),
        UNAUTHENTICATED,
        parameters=[Q, STATUS, CUSTOMER, CREATED_FROM, CREATED_TO, SORT_BY, SORT_ORDER, PAGE, PAGE_SIZE],
    ),
    customer_orders=_query(
        "List a customer's orders",
        "The orders of one customer, newest first, optionally by ?status=. A customer may ask only for "
        "their own; any other customer is a 404." + PAGINATED + FRESHNESS,
        TAG_ORDERS,
        _ok(serializers.OrderSerializer(many=True), ORDER, "one page of orders"),
        _bad_choice("status", "lost"),
        UNAUTHENTICATED,
        error(404, "not_found", "No such customer.", summary="someone else's orders"),
        parameters=[STATUS, PAGE, PAGE_SIZE],
    ),
    history=_query(
        "Get an order's history",
        "Every event of the order from the log, oldest first, each with its hash, which chains it to the "
        "event before it so tampering shows." + FRESHNESS,
        TAG_ORDERS,
        _ok(serializers.HistoryEventSerializer(many=True), HISTORY_EVENT, "the first event"),
        UNAUTHENTICATED,
        NO_ORDER,
        paginated=False,
    ),
)

product_views = on_methods(
    list=_query(
        "Browse the catalogue",
        "No login needed. ?search= is full text over sku, name and description (best matches first); "
        "?in_stock=true keeps what can be ordered now; ?ordering= one of name, price, available, with - "
        "for descending." + PAGINATED + FRESHNESS,
        TAG_CATALOGUE,
        _ok(serializers.ProductSerializer(many=True), PRODUCT, "one page of products"),
        _bad_choice("in_stock", "maybe"),
        parameters=[SEARCH],
    ),
    retrieve=_query(
        "Get a product",
        "No login needed. `available` is what can still be ordered: `on_hand` minus the units `reserved` by "
        "pending orders. The ETag is the product's version. With ?as_of_version=N or ?as_of=<time>, the "
        "product as it was then, with X-As-Of-Version." + FRESHNESS,
        TAG_CATALOGUE,
        _ok(serializers.ProductSerializer, PRODUCT, "a mug"),
        BAD_AS_OF,
        NO_PRODUCT,
        NO_VERSION,
    ),
)

sales_views = on_methods(
    list=_query(
        "Daily sales",
        "Staff only. Per UTC day: orders placed, units and revenue of those orders, and orders cancelled; "
        "?date_from= and ?date_to= (inclusive) narrow the days." + PAGINATED + FRESHNESS,
        TAG_OPERATIONS,
        _ok(serializers.DailySalesSerializer(many=True), SALES_DAY, "one day"),
        field_errors("bad date", {"date_from": ["Enter a valid date."]}, summary="date_from is no date"),
        UNAUTHENTICATED,
        STAFF_ONLY,
        parameters=[DATE_FROM, DATE_TO],
    ),
)

projection_views = on_methods(
    list=_query(
        "Read-model status",
        "Staff only. Each read model (projection) with its status, the log position it has reached "
        "(a consistency token), and how far it lags behind the log in events and seconds." + PAGINATED + FRESHNESS,
        TAG_OPERATIONS,
        _ok(serializers.ProjectionStatusSerializer(many=True), PROJECTION, "one projection"),
        UNAUTHENTICATED,
        STAFF_ONLY,
    ),
)

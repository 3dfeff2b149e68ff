"""The query API: thin DRF viewsets that turn a request into one query for the bus.

Each action builds a query object, `ask`s it (read-your-writes waiting, access rules,
filtering, paging and metrics happen there), renders what came back (a list's `Page`
through config/pagination.py) and reports the consistency of the answer in headers
(API.md).
"""

import re
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from django.core.exceptions import ImproperlyConfigured
from django.http import QueryDict
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, viewsets
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from eventstore.log.positions import Checkpoint
from eventstore.models import ProjectionState
from eventstore.projections.consistency import DEFAULT_TIMEOUT, MAX_TIMEOUT
from orders_read import api_schema, filters, serializers
from orders_read.bus import Answer, Viewer, ask
from orders_read.errors import NotFoundError
from orders_read.models import DailySales, OrderSummary, ProductView
from orders_read.pages import Page, PageRenderer, renders_pages
from orders_read.queries import (
    GetCustomerOrders,
    GetDailySales,
    GetOrderAsOf,
    GetOrderById,
    GetOrderHistory,
    GetProduct,
    GetProductAsOf,
    GetProjectionStatus,
    ListOrders,
    Query,
    SearchOrders,
    SearchProducts,
)
from orders_read.representation import Representer, representer

STALE_WARNING = '110 - "Response is Stale"'

CONSISTENCY_PARAMETERS = [
    OpenApiParameter(
        "X-Consistency-Token",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        description="token from a command: wait until this endpoint's views include it",
    ),
    OpenApiParameter(
        "X-Consistency-Timeout",
        OpenApiTypes.NUMBER,
        OpenApiParameter.HEADER,
        description=f"seconds to wait (<= {MAX_TIMEOUT:g}, default {DEFAULT_TIMEOUT:g})",
    ),
    OpenApiParameter(
        "consistency_token", OpenApiTypes.STR, OpenApiParameter.QUERY, description="the token as a query parameter"
    ),
]


AS_OF_PARAMETERS = [
    OpenApiParameter(
        "as_of_version",
        OpenApiTypes.INT,
        OpenApiParameter.QUERY,
        description="the view right after the stream's event N, folded from the log (404 beyond the "
        "stream or below 1); not together with as_of",
    ),
    OpenApiParameter(
        "as_of",
        OpenApiTypes.DATETIME,
        OpenApiParameter.QUERY,
        description="the view after the last event recorded at or before this ISO 8601 time (UTC "
        "when it has no zone; 404 before the first event); not together with "
        "as_of_version",
    ),
    OpenApiParameter(
        "X-As-Of-Version",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[200],
        description="on an as-of answer: the stream version it shows (also its ETag)",
    ),
]
_VERSION = re.compile(r"-?[0-9]+")
_BEYOND_ANY_STREAM = 10**18
_OFFSET_AS_SPACE = re.compile(r"(T[0-9:.,]+) ([0-9]{2}(?::?[0-9]{2})?)$")
"""An offset's unencoded `+` arrives as a space (form encoding): `…T10:00:00 01:00`."""


class InvalidAsOf(APIException):
    status_code = 400
    default_detail = "Give as_of_version (an integer) or as_of (an ISO 8601 time), not both."
    default_code = "invalid_as_of"


def as_of_point(params: QueryDict) -> tuple[int | None, datetime | None] | None:
    """The (version, time) a detail request asks for, None for the current view; malformed is a 400.

    A version is any integer (a syntactically fine one out of the stream is a 404, not a
    400); a time without a zone is UTC, the zone every time of the API is given in.
    """
    versions, times = params.getlist("as_of_version"), params.getlist("as_of")
    if not versions and not times:
        return None
    if len(versions) + len(times) > 1:
        raise InvalidAsOf()
    if versions:
        raw = versions[0]
        if not _VERSION.fullmatch(raw):
            raise InvalidAsOf("as_of_version must be an integer.")
        digits = raw.lstrip("-").lstrip("0")
        magnitude = int(digits or "0") if len(digits) <= 18 else _BEYOND_ANY_STREAM  # int() of 5,000 digits raises
        return (-magnitude if raw.startswith("-") else magnitude), None
    try:
        at = parse_datetime(_OFFSET_AS_SPACE.sub(r"\1+\2", times[0]))
    except ValueError:  # well-formed but impossible: month 13, offset of a day
        at = None
    if at is None:
        raise InvalidAsOf("as_of must be an ISO 8601 time, such as 2026-01-31T12:00:00Z.")
    return None, at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class InvalidConsistencyTimeout(APIException):
    status_code = 400
    default_detail = f"X-Consistency-Timeout must be a number of seconds between 0 and {MAX_TIMEOUT:g}."
    default_code = "invalid_consistency_timeout"


class QueryViewSet(viewsets.GenericViewSet):
    """Base: asks the bus with the request's consistency token and reports freshness."""

    filter_backends = [DjangoFilterBackend]
    filtersets: ClassVar[dict[str, type]] = {}
    """For the schema only (its query parameters): the bus's routes apply the same FilterSets."""
    consistency: str | None = None

    @property
    def filterset_class(self) -> type | None:
        return self.filtersets.get(getattr(self, "action", None) or "")

    @property
    def pages(self) -> PageRenderer:
        """The paginator, which must render the bus's pages (config's StandardPagination does)."""
        paginator = self.paginator
        if not renders_pages(type(paginator)):
            raise ImproperlyConfigured(f"{type(paginator).__name__} cannot render the query bus's pages")
        return cast(PageRenderer, paginator)

    def listing(self) -> dict[str, Any]:
        """What a list query carries from the request: its filters and the page wanted."""
        return {"filters": self.request.query_params, "page": self.pages.page_request(self.request)}

    def ask(self, query: Query) -> Any:
        token = self.request.headers.get("X-Consistency-Token") or self.request.query_params.get("consistency_token")
        after = Checkpoint.parse(token) if token else None  # InvalidCheckpoint -> 400
        try:
            answer: Answer = ask(query, viewer=Viewer.of(self.request.user), after=after, timeout=self._timeout())
        except NotFoundError as missing:
            self.consistency = missing.consistency  # a 404 says how fresh the views that found nothing were
            raise
        self.consistency = answer.consistency
        return answer.result

    def _timeout(self) -> float:
        raw = self.request.headers.get("X-Consistency-Timeout")
        if raw is None:
            return DEFAULT_TIMEOUT
        try:
            value = float(raw)
        except ValueError:
            raise InvalidConsistencyTimeout() from None
        if not 0 <= value <= MAX_TIMEOUT:  # also refuses nan and inf
            raise InvalidConsistencyTimeout()
        return value

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.consistency is not None:
            response["X-Consistency"] = self.consistency
            if self.consistency == "stale":
                response["Warning"] = STALE_WARNING
        return response

    def paginated(self, page: Page[Any]) -> Response:
        fast = self._planned()
        results = fast.many(page.items) if fast else self.get_serializer(page.items, many=True).data
        return self.pages.render(page, results, self.request)

    def one(self, instance: Any) -> Response:
        body = fast.one(instance) if (fast := self._planned()) else self.get_serializer(instance).data
        return Response(body, headers={"ETag": f'"{instance.version}"'})

    def _planned(self) -> Representer | None:
        """The serializer's planned output for a JSON answer; the browsable API reads the serializer DRF made."""
        json = type(getattr(self.request, "accepted_renderer", None)) is JSONRenderer
        return representer(self.get_serializer_class()) if json else None

    def one_as_of(self, instance: Any) -> Response:
        """A view folded from the log as of a version: same body; its ETag is that version."""
        response = self.one(instance)
        response["X-As-Of-Version"] = str(instance.version)
        return response


@extend_schema(parameters=CONSISTENCY_PARAMETERS)
@api_schema.order_views
class OrderViewSet(QueryViewSet):
    """Orders: detail, list, search, a customer's orders, and the history from the log."""

    serializer_class = serializers.OrderSerializer
    queryset = OrderSummary.objects.none()  # for the schema only; every action asks the bus
    filtersets: ClassVar[dict[str, type]] = {
        "list": filters.OrderListFilter,
        "search": filters.OrderSearchFilter,
        "customer_orders": filters.CustomerOrdersFilter,
    }

    @extend_schema(parameters=AS_OF_PARAMETERS)
    def retrieve(self, request: Request, order_id: Any) -> Response:
        point = as_of_point(request.query_params)
        if point is None:
            return self.one(self.ask(GetOrderById(order_id=order_id)))
        version, at = point
        return self.one_as_of(self.ask(GetOrderAsOf(order_id=order_id, version=version, at=at)))

    def list(self, request: Request) -> Response:
        return self.paginated(self.ask(ListOrders(**self.listing())))

    @extend_schema(responses=serializers.OrderSerializer(many=True))
    def search(self, request: Request) -> Response:
        return self.paginated(self.ask(SearchOrders(q=request.query_params.get("q", "")[:200], **self.listing())))

    @extend_schema(responses=serializers.OrderSerializer(many=True))
    def customer_orders(self, request: Request, customer_id: str) -> Response:
        return self.paginated(self.ask(GetCustomerOrders(customer_id=customer_id, **self.listing())))

    @extend_schema(responses=serializers.HistoryEventSerializer(many=True))
    def history(self, request: Request, order_id: Any) -> Response:
        history = self.ask(GetOrderHistory(order_id=order_id))
        return Response(serializers.HistoryEventSerializer(history.events, many=True).data)


@extend_schema(parameters=CONSISTENCY_PARAMETERS)
@api_schema.product_views
class ProductViewSet(QueryViewSet):
    """The public catalogue: full-text search, stock filter, detail by sku."""

    permission_classes = [permissions.AllowAny]
    serializer_class = serializers.ProductSerializer
    queryset = ProductView.objects.none()  # for the schema only; every action asks the bus
    filtersets: ClassVar[dict[str, type]] = {"list": filters.ProductFilter}

    def list(self, request: Request) -> Response:
        search = request.query_params.get("search", "")[:200]
        return self.paginated(self.ask(SearchProducts(search=search, **self.listing())))

    @extend_schema(parameters=AS_OF_PARAMETERS)
    def retrieve(self, request: Request, sku: str) -> Response:
        point = as_of_point(request.query_params)
        if point is None:
            return self.one(self.ask(GetProduct(sku=sku)))
        version, at = point
        return self.one_as_of(self.ask(GetProductAsOf(sku=sku, version=version, at=at)))


@extend_schema(parameters=CONSISTENCY_PARAMETERS)
@api_schema.sales_views
class SalesViewSet(QueryViewSet):
    """Sales per UTC day, staff only (see orders_read.models.DailySales for what each figure counts)."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = serializers.DailySalesSerializer
    queryset = DailySales.objects.none()  # for the schema only; every action asks the bus
    filtersets: ClassVar[dict[str, type]] = {"list": filters.DailySalesFilter}

    def list(self, request: Request) -> Response:
        dates = filters.DailySalesFilter(request.query_params, queryset=DailySales.objects.none())
        if not dates.is_valid():
            raise translate_validation(dates.errors)  # a malformed date is 400
        cleaned = dates.form.cleaned_data
        query = GetDailySales(date_from=cleaned.get("date_from"), date_to=cleaned.get("date_to"), **self.listing())
        return self.paginated(self.ask(query))


@api_schema.projection_views
class ProjectionViewSet(QueryViewSet):
    """Staff: every projection's status, checkpoint token and lag."""

    permission_classes = [permissions.IsAdminUser]
    serializer_class = serializers.ProjectionStatusSerializer
    queryset = ProjectionState.objects.none()  # for the schema only; the rows come from the bus

    def list(self, request: Request) -> Response:
        return self.paginated(self.ask(GetProjectionStatus(**self.listing())))

"""The read baseline: plain DRF ModelViewSets over the same view tables the query API reads.

What a team would write without the query bus: ReadOnlyModelViewSet, the same
serializers, pagination, authentication and middleware, and for the catalogue search
the best plain query on these tables (one statement on the same GIN-indexed tsvector,
ranked), so the benchmark compares only what the query side adds on top.
"""

from typing import Any

from django.db.models import QuerySet
from rest_framework import filters, permissions, viewsets
from rest_framework.request import Request

from orders_read.models import OrderSummary, ProductView
from orders_read.serializers import OrderSerializer, ProductSerializer


class PlainOrderViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = OrderSerializer
    lookup_field = "order_id"

    def get_queryset(self) -> QuerySet[OrderSummary]:
        orders = OrderSummary.objects.order_by("-created_at", "order_id")
        user = self.request.user
        return orders if user.is_staff else orders.filter(customer_id=user.get_username())


class FullTextSearch(filters.BaseFilterBackend):
    """?search= as whole words on the table's indexed tsvector, best matches first."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        term = request.query_params.get("search", "").strip()
        if not term:
            return queryset.order_by("product_id")
        return queryset.extra(
            select={"rank": "ts_rank(search_vector, plainto_tsquery('simple', %s))"},
            select_params=[term],
            where=["search_vector @@ plainto_tsquery('simple', %s)"],
            params=[term],
            order_by=["-rank", "product_id"],
        )


class PlainProductViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [permissions.AllowAny]
    serializer_class = ProductSerializer
    queryset = ProductView.objects.all()
    lookup_field = "product_id"
    filter_backends = [FullTextSearch]

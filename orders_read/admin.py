"""Read-only admins for the views: what customers and the API see, for support staff to look up.

The views belong to their projections; the admin must never write them (the models
refuse `save()` too), so add, change and delete are off and there are no actions.
An order or a product links to its stream in the event log, and the log links back
(registered here, because the event store imports nothing of the read side).
"""

import uuid

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from eventstore.admin import ReadOnlyAdminMixin, register_stream_view, stream_changelist_url
from eventstore.routers import read_db_alias
from orders_read.models import DailySales, OrderSummary, ProductView

ORDER_STREAM_TYPE, PRODUCT_STREAM_TYPE = "Order", "Product"
"""The stream types of orders_write's aggregates (`<type>-<id>` is the stream id)."""


def _entity_id(stream_id: str) -> str:
    return stream_id.partition("-")[2]


def _stream_link(stream_id: str) -> str:
    return format_html(
        '<a class="stream-link" href="{}" title="every event of this stream">{}</a>',
        stream_changelist_url(stream_id),
        stream_id,
    )


def order_view_url(stream_id: str) -> str | None:
    """The order's admin page, if the projection has a row for it."""
    try:
        order_id = uuid.UUID(_entity_id(stream_id))
    except ValueError:
        return None
    if not OrderSummary.objects.using(read_db_alias()).filter(order_id=order_id).exists():
        return None
    return reverse("admin:orders_read_ordersummary_change", args=[order_id])


def product_view_url(stream_id: str) -> str | None:
    """The product's admin page, if the projection has a row for it."""
    product_id = _entity_id(stream_id)
    if not ProductView.objects.using(read_db_alias()).filter(product_id=product_id).exists():
        return None
    return reverse("admin:orders_read_productview_change", args=[product_id])


register_stream_view(ORDER_STREAM_TYPE, order_view_url)
register_stream_view(PRODUCT_STREAM_TYPE, product_view_url)


class ReadOnlyViewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    show_full_result_count = False
    list_per_page = 50
    actions = None


@admin.register(OrderSummary)
class OrderSummaryAdmin(ReadOnlyViewAdmin):
    list_display = (
        "order_id",
        "customer_id",
        "status",
        "item_count",
        "total_amount",
        "created_at",
        "version",
        "stream",
    )
    list_filter = ("status",)
    search_fields = ("=order_key", "=customer_id")
    search_help_text = "An order id or a customer id (exact)."
    ordering = ("-created_at",)

    @admin.display(description="stream in the log")
    def stream(self, obj: OrderSummary) -> str:
        return _stream_link(f"{ORDER_STREAM_TYPE}-{obj.order_id}")

    def get_readonly_fields(self, request: HttpRequest, obj: OrderSummary | None = None) -> list[str]:
        return [*(field.name for field in self.model._meta.fields), "stream"]


class InStockFilter(admin.SimpleListFilter):
    """Products a customer can order now (available > 0), or those they cannot."""

    title = "in stock"
    parameter_name = "in_stock"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "In stock"), ("no", "Out of stock")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(available__gt=0)
        if self.value() == "no":
            return queryset.filter(available__lte=0)
        return queryset


@admin.register(ProductView)
class ProductViewAdmin(ReadOnlyViewAdmin):
    list_display = ("sku", "name", "price", "on_hand", "reserved", "available", "version", "stream")
    list_filter = (InStockFilter,)
    search_fields = ("sku", "name")
    ordering = ("sku",)

    @admin.display(description="stream in the log")
    def stream(self, obj: ProductView) -> str:
        return _stream_link(f"{PRODUCT_STREAM_TYPE}-{obj.product_id}")

    def get_readonly_fields(self, request: HttpRequest, obj: ProductView | None = None) -> list[str]:
        return [*(field.name for field in self.model._meta.fields), "stream"]


@admin.register(DailySales)
class DailySalesAdmin(ReadOnlyViewAdmin):
    list_display = ("date", "orders", "units", "revenue", "cancelled")
    date_hierarchy = "date"
    ordering = ("-date",)

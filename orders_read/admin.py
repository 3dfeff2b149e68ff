"""Read-only admins for the views: what customers and the API see, for support staff to look up.

The views belong to their projections; the admin must never write them (the models
refuse `save()` too), so add, change and delete are off and there are no actions.
"""

from django.contrib import admin

from eventstore.admin import ReadOnlyAdminMixin
from orders_read.models import DailySales, OrderSummary, ProductView


class ReadOnlyViewAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    show_full_result_count = False
    list_per_page = 50
    actions = None


@admin.register(OrderSummary)
class OrderSummaryAdmin(ReadOnlyViewAdmin):
    list_display = ("order_id", "customer_id", "status", "item_count", "total_amount", "created_at", "version")
    list_filter = ("status",)
    search_fields = ("=order_key", "=customer_id")
    search_help_text = "An order id or a customer id (exact)."
    ordering = ("-created_at",)


@admin.register(ProductView)
class ProductViewAdmin(ReadOnlyViewAdmin):
    list_display = ("sku", "name", "price", "on_hand", "reserved", "available", "version")
    search_fields = ("sku", "name")
    ordering = ("sku",)


@admin.register(DailySales)
class DailySalesAdmin(ReadOnlyViewAdmin):
    list_display = ("date", "orders", "units", "revenue", "cancelled")
    ordering = ("-date",)

"""Read-only view models: flat, join-free tables shaped per query, owned by projections.

`managed = False` because each table is created by the migration of the projection
that owns it (with PostgreSQL extras the ORM cannot declare: a generated tsvector and
trigram indexes). The app never writes them through the ORM: only projections do, with
set-based SQL, so `save()`/`delete()` raise to catch a stray write early.

Columns hold the largest values commands can build up (orders_write/limits.py): a
projection must never fail on a value its log accepted. A per-day sum has no bound
but the log's own pace, so those columns are 64-bit counters and wide decimals.
"""

from typing import Any, NoReturn

from django.db import models


class ReadOnlyViewError(RuntimeError):
    """A view row was written through the ORM; only its projection may write it."""


class ReadOnlyModel(models.Model):
    class Meta:
        abstract = True
        managed = False

    def save(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlyViewError(f"{type(self).__name__} is a read-only view; its projection writes it")

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlyViewError(f"{type(self).__name__} is a read-only view; its projection writes it")


class OrderSummary(ReadOnlyModel):
    """One row per order, lines denormalized as JSON: serves detail, lists and search."""

    order_id = models.UUIDField(primary_key=True)
    order_key = models.CharField(max_length=36, help_text="the id as text, for id-prefix search")
    customer_id = models.CharField(max_length=150)
    status = models.CharField(max_length=16)
    items = models.JSONField(default=list)
    item_count = models.IntegerField(default=0)  # at most MAX_LINES * MAX_QUANTITY units
    total_amount = models.DecimalField(max_digits=15, decimal_places=2)  # MAX_ORDER_TOTAL has 13 integer digits
    shipping_address = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    shipped_at = models.DateTimeField(null=True)
    cancelled_at = models.DateTimeField(null=True)
    cancel_reason = models.TextField(default="")
    cancelled_by = models.CharField(max_length=150, default="")
    version = models.IntegerField()
    search_text = models.TextField(default="", help_text="lower-cased customer, line skus and names")

    class Meta(ReadOnlyModel.Meta):
        db_table = "orders_read_order_summary"
        verbose_name_plural = "order summaries"
        indexes = [
            models.Index(fields=("customer_id", "created_at"), name="ors_customer_created"),
            models.Index(fields=("status", "created_at"), name="ors_status_created"),
            models.Index(fields=("total_amount",), name="ors_total"),
            models.Index(fields=("created_at",), name="ors_created"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} ({self.status})"


class ProductView(ReadOnlyModel):
    """The catalogue: one row per product with its stock figures and price.

    On PostgreSQL the table also has a STORED generated `search_vector` (sku, name,
    description) with a GIN index; it is not a model field so no write ever sets it.
    """

    product_id = models.CharField(max_length=64, primary_key=True)
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=255)
    description = models.TextField(default="")
    price = models.DecimalField(max_digits=12, decimal_places=2)
    on_hand = models.IntegerField(default=0)  # stock figures are at most MAX_STOCK
    reserved = models.IntegerField(default=0)
    available = models.IntegerField(default=0)
    version = models.IntegerField()

    class Meta(ReadOnlyModel.Meta):
        db_table = "orders_read_product"
        indexes = [
            models.Index(fields=("name",), name="orp_name"),
            models.Index(fields=("price",), name="orp_price"),
            models.Index(fields=("available",), name="orp_available"),
        ]

    def __str__(self) -> str:
        return self.sku


class DailySales(ReadOnlyModel):
    """Sales per UTC day.

    `orders` = orders created that day; `units`/`revenue` = lines added that day
    (gross: a later cancellation does not take them back); `cancelled` = orders
    cancelled that day. Every figure is a sum of events of one day, so the
    projection only ever adds to a row and never needs to look an order up.
    """

    date = models.DateField(primary_key=True)
    orders = models.BigIntegerField(default=0)
    units = models.BigIntegerField(default=0)
    # Each line adds at most MAX_LINE_TOTAL (11 integer digits): a trillion lines a day still fit.
    revenue = models.DecimalField(max_digits=26, decimal_places=2, default=0)
    cancelled = models.BigIntegerField(default=0)

    class Meta(ReadOnlyModel.Meta):
        db_table = "orders_read_daily_sales"
        verbose_name_plural = "daily sales"

    def __str__(self) -> str:
        return str(self.date)


VIEW_MODELS: tuple[type[ReadOnlyModel], ...] = (OrderSummary, ProductView, DailySales)

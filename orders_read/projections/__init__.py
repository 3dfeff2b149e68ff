"""The projections of the read side; importing this package registers them."""

from orders_read.projections.catalogue import CatalogueProjection
from orders_read.projections.daily_sales import DailySalesProjection
from orders_read.projections.order_summary import OrderSummaryProjection

__all__ = ["CatalogueProjection", "DailySalesProjection", "OrderSummaryProjection"]

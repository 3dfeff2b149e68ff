"""The write side's aggregates: plain Python objects that fold events and decide."""

from orders_write.aggregates.order import Order
from orders_write.aggregates.product import Product

__all__ = ["Order", "Product"]

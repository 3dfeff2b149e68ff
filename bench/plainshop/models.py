"""The CRUD schema a team would otherwise write: products with a stock column, orders, lines."""

import uuid

from django.db import models


class PlainProduct(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    stock = models.IntegerField()

    def __str__(self) -> str:
        return self.sku


class PlainOrder(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    customer_id = models.CharField(max_length=150)
    status = models.CharField(max_length=20, default="pending")
    shipping_address = models.JSONField()
    total_amount = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.id)


class PlainOrderLine(models.Model):
    order = models.ForeignKey(PlainOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(PlainProduct, on_delete=models.PROTECT)
    quantity = models.IntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.order_id}: {self.quantity} x {self.product_id}"

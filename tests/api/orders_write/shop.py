"""Helpers that read like the command API: register a product, place an order, count the log."""

from typing import Any

from rest_framework.test import APIClient

from eventstore.aggregates.loading import load
from eventstore.models import Event
from orders_write.aggregates import Order, Product

ADDRESS = {"name": "Alice", "street": "1 Main St", "city": "Oslo"}


def event_count() -> int:
    return Event.objects.count()


def register(client: APIClient, sku: str = "mug", *, price: str = "9.99", stock: int = 10, **extra: Any) -> Any:
    body = {"sku": sku, "name": sku.title(), "price": price, "initial_stock": stock, **extra}
    response = client.post("/api/products/", body, format="json")
    assert response.status_code == 201, response.content
    return response


def place(client: APIClient, *items: tuple[str, int], expect: int | None = 201, **extra: Any) -> Any:
    body = {"items": [{"product_id": sku, "quantity": q} for sku, q in items], "shipping_address": ADDRESS, **extra}
    response = client.post("/api/orders/", body, format="json")
    if expect is not None:
        assert response.status_code == expect, response.content
    return response


def product(sku: str) -> Product:
    """The product's state, loaded from its stream (the write side's own view of the stock)."""
    return load(Product, sku)


def order(order_id: str) -> Order:
    return load(Order, order_id)


def assert_refused(response: Any, status: int, code: str | None, before: int) -> None:
    """The answer has this status and `code`, and the log did not change."""
    assert response.status_code == status, response.content
    if code is not None:
        assert response.json()["code"] == code
    assert event_count() == before

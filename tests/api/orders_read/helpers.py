"""Commands over HTTP for the query API tests (API.md "Commands")."""

from typing import Any

from rest_framework.test import APIClient


def register(
    staff: APIClient, sku: str, *, name: str = "", price: str = "10.00", stock: int = 10, description: str = ""
) -> dict[str, Any]:
    body = {
        "sku": sku,
        "name": name or f"Product {sku}",
        "price": price,
        "initial_stock": stock,
        "description": description,
    }
    response = staff.post("/api/products/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def place(client: APIClient, lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    body = {
        "items": [{"product_id": sku, "quantity": q} for sku, q in lines],
        "shipping_address": {"city": "Lyon"},
        **extra,
    }
    response = client.post("/api/orders/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()

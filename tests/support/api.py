"""An HTTP client for the orders API that reads like the contract (API.md), on `requests`.

One instance per thread: a `requests.Session` keeps its connection pool and is not
meant to be shared across threads.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import requests


class ApiClient:
    """Calls /api/ on one node as one user (DRF token); every method returns the raw response."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Token {token}"

    def close(self) -> None:
        self.session.close()

    # Transport -----------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(f"{self.base_url}/api/{path}", params=params or None, timeout=self.timeout)

    def post(
        self, path: str, body: dict[str, Any], *, key: str | None = None, if_match: int | None = None
    ) -> requests.Response:
        headers = {}
        if key is not None:
            headers["Idempotency-Key"] = key
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        return self.session.post(f"{self.base_url}/api/{path}", json=body, headers=headers, timeout=self.timeout)

    # Commands ------------------------------------------------------------------------

    def register_product(
        self, sku: str, *, price: str = "10.00", initial_stock: int = 0, name: str | None = None, key: str | None = None
    ) -> requests.Response:
        body = {
            "sku": sku,
            "name": name or f"Product {sku}",
            "description": f"about {sku}",
            "price": price,
            "initial_stock": initial_stock,
        }
        return self.post("products/", body, key=key)

    def receive_stock(self, sku: str, quantity: int, *, key: str | None = None) -> requests.Response:
        return self.post(f"products/{sku}/stock/", {"quantity": quantity}, key=key)

    def create_order(
        self, items: list[tuple[str, int]], *, customer_id: str | None = None, key: str | None = None
    ) -> requests.Response:
        body: dict[str, Any] = {
            "items": [{"product_id": sku, "quantity": quantity} for sku, quantity in items],
            "shipping_address": {"street": "1 Test Lane", "city": "Testville"},
        }
        if customer_id is not None:
            body["customer_id"] = customer_id
        return self.post("orders/", body, key=key)

    def add_item(self, order_id: str, sku: str, quantity: int, *, key: str | None = None) -> requests.Response:
        return self.post(f"orders/{order_id}/items/", {"product_id": sku, "quantity": quantity}, key=key)

    def cancel_order(
        self, order_id: str, reason: str = "changed my mind", *, key: str | None = None
    ) -> requests.Response:
        return self.post(f"orders/{order_id}/cancel/", {"reason": reason}, key=key)

    def ship_order(self, order_id: str, *, key: str | None = None) -> requests.Response:
        return self.post(f"orders/{order_id}/ship/", {}, key=key)

    # Queries -------------------------------------------------------------------------

    def order(self, order_id: str) -> requests.Response:
        return self.get(f"orders/{order_id}/")

    def product(self, sku: str) -> requests.Response:
        return self.get(f"products/{sku}/")

    def iter_pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every result of a paginated list, page by page (100 a page), failing loudly on an error."""
        page = 1
        while True:
            response = self.get(path, page=page, page_size=100, **params)
            response.raise_for_status()
            body = response.json()
            yield from body["results"]
            if not body.get("next"):
                return
            page += 1

    def orders_of(self, customer_id: str) -> list[dict[str, Any]]:
        return list(self.iter_pages("orders/", customer_id=customer_id))


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return f"key-{uuid.uuid4()}"

"""The tests' one set of API helpers: commands that read like API.md, for any client.

`register`, `place`, `receive`, `add_item`, `cancel` and `ship` send a command's JSON
body through either an in-process DRF test client (the API tests) or an `ApiClient`
on a live gunicorn node (the black-box and fault tests), and return the response.
`expect` asserts its status (None: the caller judges, as fault tests must). The rest
reads state the write side's own way (`product`, `order`, `event_count`).

`ApiClient` is one instance per thread: a `requests.Session` keeps its connection pool
and is not meant to be shared across threads.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import requests
from rest_framework.test import APIClient

from eventstore.aggregates.loading import load
from eventstore.models import Event
from orders_write.aggregates import Order, Product

ADDRESS = {"name": "Alice", "street": "1 Main St", "city": "Oslo"}


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


Client = APIClient | ApiClient
Response = Any
"""A DRF test response or a `requests.Response`: both have `status_code`, `json()` and headers by name."""


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return f"key-{uuid.uuid4()}"


def send(
    client: Client, path: str, body: dict[str, Any], *, key: str | None = None, if_match: int | None = None
) -> Response:
    """POST a command to /api/<path> through either kind of client."""
    if isinstance(client, ApiClient):
        return client.post(path, body, key=key, if_match=if_match)
    headers = {}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    if if_match is not None:
        headers["HTTP_IF_MATCH"] = f'"{if_match}"'
    return client.post(f"/api/{path}", body, format="json", **headers)


def _expected(response: Response, expect: int | None) -> Response:
    if expect is not None:
        assert response.status_code == expect, response.content
    return response


def register(
    client: Client,
    sku: str = "mug",
    *,
    name: str | None = None,
    price: str = "10.00",
    stock: int = 10,
    key: str | None = None,
    expect: int | None = 201,
    **extra: Any,
) -> Response:
    """Register a product (staff), `stock` units on hand; `extra` adds or overrides body fields."""
    body = {"sku": sku, "name": name or f"Product {sku}", "price": price, "initial_stock": stock, **extra}
    return _expected(send(client, "products/", body, key=key), expect)


def receive(client: Client, sku: str, quantity: int, *, key: str | None = None, expect: int | None = 200) -> Response:
    return _expected(send(client, f"products/{sku}/stock/", {"quantity": quantity}, key=key), expect)


def place(
    client: Client,
    *items: tuple[str, int],
    customer_id: str | None = None,
    key: str | None = None,
    expect: int | None = 201,
    **extra: Any,
) -> Response:
    """Place an order of (sku, quantity) lines; `extra` adds or overrides body fields."""
    body: dict[str, Any] = {
        "items": [{"product_id": sku, "quantity": quantity} for sku, quantity in items],
        "shipping_address": ADDRESS,
        **extra,
    }
    if customer_id is not None:
        body["customer_id"] = customer_id
    return _expected(send(client, "orders/", body, key=key), expect)


def add_item(
    client: Client, order_id: str, sku: str, quantity: int, *, key: str | None = None, expect: int | None = 200
) -> Response:
    body = {"product_id": sku, "quantity": quantity}
    return _expected(send(client, f"orders/{order_id}/items/", body, key=key), expect)


def cancel(
    client: Client,
    order_id: str,
    reason: str = "changed my mind",
    *,
    key: str | None = None,
    expect: int | None = 200,
) -> Response:
    return _expected(send(client, f"orders/{order_id}/cancel/", {"reason": reason}, key=key), expect)


def ship(client: Client, order_id: str, *, key: str | None = None, expect: int | None = 200) -> Response:
    return _expected(send(client, f"orders/{order_id}/ship/", {}, key=key), expect)


def client_for(user: object | None) -> APIClient:
    """An APIClient that authenticates as `user` with a real DRF token (None: anonymous)."""
    from rest_framework.authtoken.models import Token

    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


# The write side's own view, for asserting what a command did --------------------------


def event_count() -> int:
    return Event.objects.count()


def product(sku: str) -> Product:
    """The product's state, loaded from its stream (the write side's own view of the stock)."""
    return load(Product, sku)


def order(order_id: str) -> Order:
    return load(Order, order_id)


def assert_refused(response: Response, status: int, code: str | None, before: int) -> None:
    """The answer has this status and `code`, and the log did not change."""
    assert response.status_code == status, response.content
    if code is not None:
        assert response.json()["code"] == code
    assert event_count() == before

"""GET /api/orders/{id}/ and /api/products/{sku}/ as of a version or a time (API.md, "As of a point in the past").

The property: over random histories (orders created, lines added, cancelled or shipped;
products registered, restocked, repriced, reserved, released and shipped), the view as of
every version a command left a stream at is the body the live view answered right after
that command, and as of the current version it is the live view exactly. Projections run
eagerly, so the live view is current when a command returns.
"""

import time
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from eventstore.log.append import read_stream
from orders_write.bus import dispatch
from orders_write.commands import (
    AddOrderItem,
    CancelOrder,
    ChangePrice,
    CreateOrder,
    Metadata,
    OrderLine,
    ReceiveStock,
    RegisterProduct,
    ShipOrder,
)
from orders_write.errors import DomainError
from tests.support.api import place, register

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("eager_tasks"),
]

STAFF = Metadata(user="staff", is_staff=True)
CUSTOMERS = ("alice", "bob")

quantities = st.integers(min_value=1, max_value=4)
products = st.integers(min_value=0, max_value=1)
orders = st.integers(min_value=0, max_value=3)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), products, quantities),
        st.tuples(st.just("price"), products, st.integers(min_value=1, max_value=9999)),
        st.tuples(
            st.just("create"),
            st.sampled_from(CUSTOMERS),
            st.lists(st.tuples(products, quantities), min_size=1, max_size=3),
        ),
        st.tuples(st.just("add"), orders, products, quantities),
        st.tuples(st.just("cancel"), orders),
        st.tuples(st.just("ship"), orders),
    ),
    min_size=1,
    max_size=12,
)


class History:
    """Runs commands through the command bus and records the live view (HTTP) after each one."""

    def __init__(self, client: APIClient, initial_stock: tuple[int, int]) -> None:
        self.client = client
        self.skus: list[str] = []
        self.orders: list[str] = []
        self.seen: dict[str, dict[int, Any]] = {}
        """Live view bodies by detail path and version."""
        for stock in initial_stock:
            self.skus.append(f"P{uuid.uuid4().hex[:10]}")
            self.run(
                RegisterProduct(
                    metadata=STAFF,
                    sku=self.skus[-1],
                    name=f"Thing {self.skus[-1]}",
                    price=Decimal("2.50"),
                    initial_stock=stock,
                )
            )

    def step(self, step: tuple) -> None:
        match step:
            case ("receive", p, quantity):
                self.run(ReceiveStock(metadata=STAFF, sku=self.skus[p], quantity=quantity))
            case ("price", p, cents):
                self.run(ChangePrice(metadata=STAFF, sku=self.skus[p], price=Decimal(cents) / 100))
            case ("create", customer, lines):
                command = CreateOrder(
                    metadata=Metadata(user=customer),
                    customer_id=customer,
                    items=tuple(OrderLine(product_id=self.skus[p], quantity=q) for p, q in lines),
                    shipping_address={"c": "Lyon"},
                )
                if self.run(command):
                    self.orders.append(command.order_id)
            case ("add", o, p, quantity) if o < len(self.orders):
                self.run(
                    AddOrderItem(metadata=STAFF, order_id=self.orders[o], product_id=self.skus[p], quantity=quantity)
                )
            case ("cancel", o) if o < len(self.orders):
                self.run(CancelOrder(metadata=STAFF, order_id=self.orders[o], reason=f"step {o}"))
            case ("ship", o) if o < len(self.orders):
                self.run(ShipOrder(metadata=STAFF, order_id=self.orders[o]))

    def run(self, command: Any) -> bool:
        try:
            dispatch(command)
        except DomainError:  # refused (stock short, not pending): nothing appended, nothing to see
            return False
        order_id = getattr(command, "order_id", None)
        for path in [f"/api/products/{sku}/" for sku in self.skus] + ([f"/api/orders/{order_id}/"] if order_id else []):
            response = self.client.get(path)
            assert response.status_code == 200, response.content
            body = response.json()
            assert self.seen.setdefault(path, {}).setdefault(body["version"], body) == body, (path, body["version"])
            now = self.client.get(path, {"as_of_version": body["version"]})  # the cached stream grows by its tail
            assert (now.status_code, now.json()) == (200, body), path
        return True


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=steps, initial_stock=st.tuples(st.integers(0, 6), st.integers(0, 6)))
def test_as_of_every_version_is_what_the_live_view_showed(
    staff_client: APIClient, program: list[tuple], initial_stock: tuple[int, int]
) -> None:
    with override_settings(AS_OF_CACHE_FROM=1):  # every stream kept between requests (orders_read/stream_cache.py)
        history = History(staff_client, initial_stock)
        for step in program:
            history.step(step)
    for path, bodies in history.seen.items():
        for version, body in bodies.items():
            past = staff_client.get(path, {"as_of_version": version})
            assert past.status_code == 200, past.content
            assert past.json() == body, (path, version)
            assert (past["ETag"], past["X-As-Of-Version"]) == (f'"{version}"', str(version))
        live = staff_client.get(path)
        current = live.json()["version"]
        for version in range(1, current + 1):  # versions inside one command too: they fold and say so
            past = staff_client.get(path, {"as_of_version": version})
            assert (past.status_code, past.json()["version"]) == (200, version), (path, version)
        now = staff_client.get(path, {"as_of_version": current})
        assert (now.json(), now["ETag"]) == (live.json(), live["ETag"])
        assert staff_client.get(path, {"as_of_version": current + 1}).status_code == 404


@pytest.fixture
def shop(staff_client: APIClient, customer_client: APIClient) -> dict[str, Any]:
    """MUG-1: v1 registered, v2 stock, v3 reserved, v4 repriced, v5 released; alice's order: v1 created, v2 its
    line, v3 cancelled (with MUG-1's v5)."""
    register(staff_client, "MUG-1", name="Blue Mug", price="9.99", stock=50)
    time.sleep(0.002)  # distinct recorded_at between commands, whatever the clock's resolution
    order = place(customer_client, ("MUG-1", 2)).json()["id"]
    time.sleep(0.002)
    assert staff_client.post("/api/products/MUG-1/price/", {"price": "12.00"}, format="json").status_code == 200
    time.sleep(0.002)
    assert customer_client.post(f"/api/orders/{order}/cancel/", {"reason": "gift"}, format="json").status_code == 200
    return {
        "order": order,
        "product_times": [e.recorded_at for e in read_stream("Product-MUG-1")],
        "order_times": [e.recorded_at for e in read_stream(f"Order-{order}")],
    }


def test_product_as_of_a_version_is_public_and_in_the_current_shape(
    anon_client: APIClient, shop: dict[str, Any]
) -> None:
    live = anon_client.get("/api/products/MUG-1/")
    response = anon_client.get("/api/products/MUG-1/?as_of_version=3")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == set(live.json())
    assert body == {
        "product_id": "MUG-1",
        "sku": "MUG-1",
        "name": "Blue Mug",
        "description": "",
        "price": "9.99",
        "on_hand": 50,
        "available": 48,
        "reserved": 2,
        "version": 3,
    }
    assert (response["ETag"], response["X-As-Of-Version"]) == ('"3"', "3")
    assert "X-As-Of-Version" not in live


def test_order_as_of_a_version_before_its_cancellation(customer_client: APIClient, shop: dict[str, Any]) -> None:
    body = customer_client.get(f"/api/orders/{shop['order']}/?as_of_version=2").json()
    assert (body["status"], body["cancelled_at"], body["cancel_reason"], body["version"]) == ("pending", None, "", 2)
    assert (body["item_count"], body["total_amount"]) == (2, "19.98")
    first = customer_client.get(f"/api/orders/{shop['order']}/?as_of_version=1").json()
    assert (first["items"], first["item_count"], first["total_amount"]) == ([], 0, "0.00")


@pytest.mark.parametrize(
    "query",
    [
        "as_of_version=0",
        "as_of_version=-1",
        "as_of_version=6",
        "as_of_version=99999999999999999999999999",
        "as_of=2000-01-01T00:00:00Z",
    ],
)
def test_no_such_point_is_404(staff_client: APIClient, shop: dict[str, Any], query: str) -> None:
    for path in ("/api/products/MUG-1/", f"/api/orders/{shop['order']}/"):
        response = staff_client.get(f"{path}?{query}")
        assert response.status_code == 404, (path, query)
        assert response.json()["code"] == "not_found"


def test_unknown_streams_as_of_are_404(staff_client: APIClient, shop: dict[str, Any]) -> None:
    assert staff_client.get("/api/products/NOPE/?as_of_version=1").status_code == 404
    assert staff_client.get(f"/api/orders/{uuid.uuid4()}/?as_of_version=1").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "as_of_version=1&as_of=2030-01-01T00:00:00Z",
        "as_of_version=abc",
        "as_of_version=1.5",
        "as_of_version=",
        "as_of_version=1e3",
        "as_of_version=%EF%BC%91",
        "as_of_version=1&as_of_version=2",
        "as_of=yesterday",
        "as_of=",
        "as_of=2026-13-01T00:00:00Z",
        "as_of=2026-01-01T00:00:00%2B24:00",
    ],
)
def test_both_or_malformed_is_400_invalid_as_of(
    staff_client: APIClient, anon_client: APIClient, shop: dict[str, Any], query: str
) -> None:
    for client, path in ((anon_client, "/api/products/MUG-1/"), (staff_client, f"/api/orders/{shop['order']}/")):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query, response.content)
        body = response.json()
        assert body["code"] == "invalid_as_of" and body["detail"], body


def test_someone_elses_order_as_of_is_404_like_a_missing_one(
    other_client: APIClient, anon_client: APIClient, shop: dict[str, Any]
) -> None:
    missing = other_client.get(f"/api/orders/{uuid.uuid4()}/?as_of_version=1")
    for query in (
        "as_of_version=1",
        "as_of_version=3",
        "as_of_version=9",
        "as_of=2000-01-01T00:00:00Z",
        "as_of=2999-01-01T00:00:00Z",
    ):
        response = other_client.get(f"/api/orders/{shop['order']}/?{query}")
        assert (response.status_code, response.json()) == (404, missing.json()), query
    assert anon_client.get(f"/api/orders/{shop['order']}/?as_of_version=1").status_code == 401


def test_as_of_a_time(staff_client: APIClient, shop: dict[str, Any]) -> None:
    """The state after the last event recorded at or before the time; one command's events share theirs."""
    times = shop["product_times"]  # v1, v2 (registration and its stock), v3 (reservation), v4 (price), v5
    assert times[0] == times[1] < times[2] < times[3] < times[4]
    tick = timedelta(microseconds=1)

    def version_at(at: Any) -> int | None:
        response = staff_client.get("/api/products/MUG-1/", {"as_of": at.isoformat()})
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.content
        assert response["X-As-Of-Version"] == str(response.json()["version"])
        return response.json()["version"]

    assert version_at(times[0] - tick) is None
    assert [version_at(times[0]), version_at(times[2] - tick), version_at(times[2]), version_at(times[3] - tick)] == [
        2,
        2,
        3,
        3,
    ]
    live = staff_client.get("/api/products/MUG-1/")
    later = staff_client.get("/api/products/MUG-1/", {"as_of": (times[4] + timedelta(days=1)).isoformat()})
    assert (later.json(), later["ETag"]) == (live.json(), live["ETag"])

    order_times = shop["order_times"]  # v1, v2 (creation and its line), v3 (cancellation)
    path = f"/api/orders/{shop['order']}/"
    before_cancel = staff_client.get(path, {"as_of": (order_times[2] - tick).isoformat()}).json()
    assert (before_cancel["status"], before_cancel["version"]) == ("pending", 2)
    assert staff_client.get(path, {"as_of": (order_times[0] - tick).isoformat()}).status_code == 404


def test_as_of_time_forms(staff_client: APIClient, shop: dict[str, Any]) -> None:
    """Z, an offset (its `+` unencoded arrives as a space), and no zone at all (UTC)."""
    later = shop["product_times"][-1] + timedelta(hours=1)
    plain = later.replace(tzinfo=None).isoformat()
    east = (later + timedelta(hours=2)).replace(tzinfo=None).isoformat()
    for query in (f"as_of={plain}Z", f"as_of={east}+02:00", f"as_of={east}%2B02:00", f"as_of={plain}"):
        response = staff_client.get(f"/api/products/MUG-1/?{query}")
        assert (response.status_code, response.json().get("version")) == (200, 5), query


def test_a_consistency_token_is_accepted_and_fresh(staff_client: APIClient, shop: dict[str, Any]) -> None:
    token = staff_client.post("/api/products/MUG-1/stock/", {"quantity": 1}, format="json")["X-Consistency-Token"]
    response = staff_client.get("/api/products/MUG-1/?as_of_version=6", HTTP_X_CONSISTENCY_TOKEN=token)
    assert (response.status_code, response["X-Consistency"], response.json()["on_hand"]) == (200, "fresh", 51)

"""Concurrency on real PostgreSQL connections: no oversell, no double run of an idempotent request.

Each thread sends its request through the whole HTTP stack (Django's test client) on
its own database connection, so the races are the ones production sees: the store's
expected versions, REPEATABLE READ and the unique indexes decide, not Python locks.
"""

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from eventstore.log.append import read_stream
from tests.support.api import ADDRESS, client_for, event_count, product, register

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(count: int, request: Callable[[int], Any]) -> list[Any]:
    """Start `count` requests at the same moment, each on its own thread and connection."""
    barrier = threading.Barrier(count)

    def worker(i: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return request(i)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


def test_thirty_buyers_of_ten_units_never_oversell(staff_client, customer_user) -> None:
    register(staff_client, "hot", stock=10)
    body = {"items": [{"product_id": "hot", "quantity": 1}], "shipping_address": ADDRESS}

    def buy(_: int) -> tuple[int, str | None]:
        response = client_for(customer_user).post("/api/orders/", body, format="json")
        return response.status_code, response.json().get("code")

    outcomes = Counter(run_together(30, buy))
    assert outcomes == {(201, None): 10, (422, "insufficient_stock"): 20}
    hot = product("hot")
    assert (hot.on_hand, hot.reserved, hot.available) == (10, 10, 0)
    reservations = [e for e in read_stream("Product-hot") if e.event_type == "StockReserved"]
    assert len(reservations) == 10
    assert [e.version for e in read_stream("Product-hot")] == list(range(1, 13))


def test_six_concurrent_duplicates_place_one_order(staff_client, customer_user) -> None:
    register(staff_client, "mug", stock=50)
    before = event_count()
    body = {"items": [{"product_id": "mug", "quantity": 2}], "shipping_address": ADDRESS}

    def send(_: int) -> tuple[int, bytes, str, str]:
        response = client_for(customer_user).post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="dup-1")
        return response.status_code, response.content, response.get("ETag"), response.get("X-Consistency-Token")

    answers = run_together(6, send)
    assert {a[0] for a in answers} == {201}
    assert len(set(answers)) == 1, answers
    assert event_count() == before + 3  # OrderCreated, OrderItemAdded, StockReserved: once
    assert product("mug").reserved == 2


def test_concurrent_commands_on_one_order_are_retried_not_lost(staff_client, customer_user) -> None:
    register(staff_client, "mug", stock=100)
    customer = client_for(customer_user)
    order_id = customer.post(
        "/api/orders/", {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": ADDRESS}, format="json"
    ).json()["id"]

    def add(_: int) -> int:
        return (
            client_for(customer_user)
            .post(f"/api/orders/{order_id}/items/", {"product_id": "mug", "quantity": 1}, format="json")
            .status_code
        )

    assert run_together(8, add) == [200] * 8
    assert [e.version for e in read_stream(f"Order-{order_id}")] == list(range(1, 11))
    assert product("mug").reserved == 9


def test_stale_if_match_under_a_race_is_412_for_the_loser(staff_client, staff_user) -> None:
    register(staff_client, "mug", stock=1)  # version 2

    def receive(_: int) -> int:
        return (
            client_for(staff_user)
            .post("/api/products/mug/stock/", {"quantity": 1}, format="json", HTTP_IF_MATCH='"2"')
            .status_code
        )

    assert sorted(run_together(4, receive)) == [200, 412, 412, 412]
    assert product("mug").on_hand == 2

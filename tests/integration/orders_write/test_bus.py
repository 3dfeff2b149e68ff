"""The bus's answer to lost races: reload and retry, 409 after a bounded number, 412 under If-Match.

Another connection really moves a stream between an attempt's load and its append (a
thread with its own connection commits a command), so every conflict here comes
from the store, not from a stub.
"""

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from orders_write import bus
from orders_write.commands import AddOrderItem, CreateOrder, Metadata, ReceiveStock, RegisterProduct
from orders_write.repository import Repository
from tests.support.api import ADDRESS, event_count, order, product

pytestmark = pytest.mark.django_db(transaction=True)

STAFF = Metadata(user="staff", user_id=1, is_staff=True)
BODY = {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": ADDRESS}


def interfere(
    monkeypatch: pytest.MonkeyPatch, victim: type, make_command: Callable[[], object], times: int
) -> list[int]:
    """Before the first `times` appends of a `victim` command, commit `make_command()` elsewhere."""
    real_save = Repository.save
    interferences: list[int] = []
    test_thread = threading.current_thread()  # the interfering command itself is never disturbed

    def save_after_interference(self: Repository, *args: object, **kwargs: object) -> object:
        disturb = threading.current_thread() is test_thread and len(interferences) < times
        if isinstance(self.command, victim) and disturb:

            def run() -> None:
                try:
                    bus.dispatch(make_command())
                finally:
                    connection.close()

            thread = threading.Thread(target=run)
            thread.start()
            thread.join()
            interferences.append(1)
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Repository, "save", save_after_interference)
    monkeypatch.setattr(bus, "BACKOFF_SECONDS", 0.0)
    return interferences


@pytest.fixture
def mug() -> None:
    bus.dispatch(RegisterProduct(metadata=STAFF, sku="mug", name="Mug", price=Decimal("1.00"), initial_stock=5))


def receive_one() -> ReceiveStock:
    return ReceiveStock(metadata=STAFF, sku="mug", quantity=1)


def test_a_stream_that_keeps_moving_ends_in_409_concurrency_conflict(customer_client, mug, monkeypatch) -> None:
    monkeypatch.setattr(bus, "MAX_ATTEMPTS", 3)
    interferences = interfere(monkeypatch, CreateOrder, receive_one, times=99)
    before = event_count()
    response = customer_client.post("/api/orders/", BODY, format="json")
    assert response.status_code == 409 and response.json()["code"] == "concurrency_conflict"
    assert len(interferences) == 3
    assert event_count() == before + 3  # only the three interfering receipts
    assert (product("mug").on_hand, product("mug").reserved) == (8, 0)


def test_a_lost_race_is_reloaded_and_retried_until_it_wins(customer_client, mug, monkeypatch) -> None:
    monkeypatch.setattr(bus, "MAX_ATTEMPTS", 3)
    interfere(monkeypatch, CreateOrder, receive_one, times=2)
    response = customer_client.post("/api/orders/", BODY, format="json")
    assert response.status_code == 201
    assert (product("mug").on_hand, product("mug").reserved, product("mug").version) == (7, 1, 5)


def test_under_if_match_a_lost_race_on_the_target_is_412_without_retry(staff_client, mug, monkeypatch) -> None:
    order_id = staff_client.post("/api/orders/", BODY, format="json").json()["id"]  # order at version 2
    interferences = interfere(
        monkeypatch,
        AddOrderItem,
        times=99,
        make_command=lambda: AddOrderItem(metadata=STAFF, order_id=order_id, product_id="mug", quantity=1),
    )
    before = event_count()
    response = staff_client.post(
        f"/api/orders/{order_id}/items/", {"product_id": "mug", "quantity": 1}, format="json", HTTP_IF_MATCH='"2"'
    )
    assert response.status_code == 412
    assert (response.json()["code"], response.json()["expected"], response.json()["actual"]) == (
        "version_mismatch",
        2,
        3,
    )
    assert len(interferences) == 1
    assert event_count() == before + 2  # only the interfering command's line and reservation
    assert order(order_id).quantities() == {"mug": 2}

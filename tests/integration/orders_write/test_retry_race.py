"""A retry with the Idempotency-Key of a first try that committed replays it, never refuses afresh.

The race (API.md, Idempotency): the retry looks the key up before the first try
commits, then loads the streams after it did, so its own decision would refuse the
command the first try just performed. The tests put the retry in exactly that window,
by letting its lookup see the log as it was before the first try's commit, and by
holding a real first try inside its transaction on another connection; no sleeps.
"""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from orders_write import idempotency
from tests.support.api import ADDRESS, client_for, event_count, place, product, register

pytestmark = pytest.mark.django_db(transaction=True)

Send = Callable[[], Any]


def answer(response: Any) -> tuple[int, bytes, str | None, str | None]:
    return response.status_code, response.content, response.get("ETag"), response.get("X-Consistency-Token")


def look_before_the_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next dispatch's key lookup finds nothing, as one made just before the first try's commit would."""
    real_lookup = idempotency.lookup
    calls: list[int] = []

    def lookup(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real_lookup(*args, **kwargs)

    monkeypatch.setattr(idempotency, "lookup", lookup)


def _retry_replays_the_committed_first_try(monkeypatch: pytest.MonkeyPatch, send: Send, refusal: str) -> None:
    first = send()
    assert first.status_code in (200, 201), first.content
    before = event_count()

    real_lookup = idempotency.lookup
    look_before_the_commit(monkeypatch)
    retry = send()
    assert answer(retry) == answer(first), (refusal, retry.content)
    assert event_count() == before
    monkeypatch.setattr(idempotency, "lookup", real_lookup)

    fresh = send()  # the ordinary replay still holds
    assert answer(fresh) == answer(first)


def test_create_order_taking_the_last_units_is_replayed_not_refused(staff_client, customer_client, monkeypatch):
    register(staff_client, "mug", stock=2)
    body = {"items": [{"product_id": "mug", "quantity": 2}], "shipping_address": ADDRESS}
    _retry_replays_the_committed_first_try(
        monkeypatch,
        lambda: customer_client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1"),
        "insufficient_stock",
    )
    assert (product("mug").reserved, product("mug").available) == (2, 0)


def test_add_item_taking_the_last_unit_is_replayed_not_refused(staff_client, customer_client, monkeypatch):
    register(staff_client, "mug", stock=2)
    order_id = place(customer_client, ("mug", 1)).json()["id"]
    _retry_replays_the_committed_first_try(
        monkeypatch,
        lambda: customer_client.post(
            f"/api/orders/{order_id}/items/",
            {"product_id": "mug", "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY="k2",
        ),
        "insufficient_stock",
    )
    assert product("mug").reserved == 2


def test_ship_is_replayed_not_refused_as_not_pending(staff_client, customer_client, monkeypatch):
    register(staff_client, "mug", stock=2)
    order_id = place(customer_client, ("mug", 1)).json()["id"]
    _retry_replays_the_committed_first_try(
        monkeypatch,
        lambda: staff_client.post(f"/api/orders/{order_id}/ship/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k3"),
        "order_not_pending",
    )
    assert (product("mug").on_hand, product("mug").reserved) == (1, 0)


def test_cancel_is_replayed_not_refused_as_not_pending(staff_client, customer_client, monkeypatch):
    register(staff_client, "mug", stock=2)
    order_id = place(customer_client, ("mug", 1)).json()["id"]
    _retry_replays_the_committed_first_try(
        monkeypatch,
        lambda: customer_client.post(
            f"/api/orders/{order_id}/cancel/", {"reason": "changed my mind"}, format="json", HTTP_IDEMPOTENCY_KEY="k4"
        ),
        "order_not_pending",
    )
    assert product("mug").reserved == 0


def test_a_refusal_is_not_stored_and_a_retry_is_decided_afresh(staff_client, customer_client):
    register(staff_client, "mug", stock=1)
    body = {"items": [{"product_id": "mug", "quantity": 2}], "shipping_address": ADDRESS}
    send = lambda: customer_client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k5")  # noqa: E731
    refused = send()
    assert (refused.status_code, refused.json()["code"]) == (422, "insufficient_stock")
    assert staff_client.post("/api/products/mug/stock/", {"quantity": 5}, format="json").status_code == 200
    accepted = send()
    assert accepted.status_code == 201
    assert answer(send()) == answer(accepted)


def test_a_refusal_for_another_body_under_a_committed_key_is_key_reused(staff_client, customer_client, monkeypatch):
    """Settling the key also finds a first try of a *different* request: 422 idempotency_key_reused."""
    register(staff_client, "mug", stock=1)
    first = customer_client.post(
        "/api/orders/",
        {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": ADDRESS},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k6",
    )
    assert first.status_code == 201
    look_before_the_commit(monkeypatch)
    other = customer_client.post(
        "/api/orders/",
        {"items": [{"product_id": "mug", "quantity": 3}], "shipping_address": ADDRESS},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k6",
    )
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


@pytest.mark.postgres
def test_a_retry_that_looked_while_the_first_try_was_in_flight_replays_it(staff_client, customer_user, monkeypatch):
    """The first try really is in flight (claimed and appended, not committed) on its own connection
    when the retry looks the key up; the retry then loads after the commit and would refuse."""
    register(staff_client, "mug", stock=1)
    body = {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": ADDRESS}
    claimed, release, looked, first_done = (threading.Event() for _ in range(4))
    real_store, real_lookup = idempotency.store_result, idempotency.lookup
    first_thread: list[threading.Thread] = []

    def store_then_hold(*args: Any, **kwargs: Any) -> None:
        real_store(*args, **kwargs)
        if threading.current_thread() is first_thread[0]:
            claimed.set()
            assert release.wait(30)

    retry_lookups: list[int] = []

    def lookup_then_wait(*args: Any, **kwargs: Any) -> Any:
        found = real_lookup(*args, **kwargs)
        if threading.current_thread() is not first_thread[0] and not retry_lookups:
            retry_lookups.append(1)
            looked.set()
            assert first_done.wait(30)
        return found

    monkeypatch.setattr(idempotency, "store_result", store_then_hold)
    monkeypatch.setattr(idempotency, "lookup", lookup_then_wait)
    answers: dict[str, Any] = {}

    def send(name: str) -> None:
        try:
            answers[name] = client_for(customer_user).post(
                "/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="in-flight"
            )
        finally:
            connection.close()

    first_thread.append(threading.Thread(target=send, args=("first",)))
    first_thread[0].start()
    assert claimed.wait(30)
    retry = threading.Thread(target=send, args=("retry",))
    retry.start()
    assert looked.wait(30)  # the retry saw no committed answer: the first try has not committed
    release.set()
    first_thread[0].join(30)
    first_done.set()
    retry.join(30)
    assert answers["first"].status_code == 201, answers["first"].content
    assert answer(answers["retry"]) == answer(answers["first"]), answers["retry"].content
    assert product("mug").reserved == 1


@pytest.mark.postgres
@pytest.mark.slow
def test_two_concurrent_duplicates_of_a_hundred_keyed_commands_run_once_and_answer_alike(
    staff_client, staff_user, customer_user
) -> None:
    """Every kind of order command, each sent twice at the same moment on two connections."""
    register(staff_client, "mug", stock=500)
    customer = client_for(customer_user)
    before_orders, before_events = _orders_created(), event_count()
    created = expected_events = 0
    for round_ in range(100):
        kind = round_ % 4
        if kind == 0:
            body = {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": ADDRESS}
            first, second = _send_twice_at_once(customer_user, "/api/orders/", body, key=f"dup-{round_}")
            created += first[0] == 201
            expected_events += 3 if first[0] == 201 else 0  # OrderCreated, OrderItemAdded, StockReserved
        else:
            order_id = place(customer, ("mug", 1)).json()["id"]
            created += 1
            expected_events += 3 + 2  # the order, then the command's events on the order and the product
            user, path, data = {
                1: (customer_user, f"/api/orders/{order_id}/items/", {"product_id": "mug", "quantity": 1}),
                2: (customer_user, f"/api/orders/{order_id}/cancel/", {"reason": "dup"}),
                3: (staff_user, f"/api/orders/{order_id}/ship/", {}),
            }[kind]
            first, second = _send_twice_at_once(user, path, data, key=f"dup-{round_}")
        assert first == second, (round_, first, second)
        assert first[0] in (200, 201), (round_, first)
    assert _orders_created() - before_orders == created
    assert event_count() - before_events == expected_events  # each accepted command appended once


def _send_twice_at_once(user: Any, path: str, data: dict[str, Any], *, key: str) -> list[Any]:
    """The same keyed POST on two threads (two connections) released by one barrier; both answers."""
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        try:
            barrier.wait(30)
            results[i] = answer(client_for(user).post(path, data, format="json", HTTP_IDEMPOTENCY_KEY=key))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _orders_created() -> int:
    from eventstore.models import Event

    return Event.objects.filter(event_type="OrderCreated").count()

"""Faults and bad input: a killed worker, a killed web node, a rebuild under load lose nothing.

Real processes on PostgreSQL + a broker (Redis or RabbitMQ): commands go over HTTP into
gunicorn, projections run in real Celery workers, and the faults are kill -9. After each
fault the views are compared with an independent fold of the log
(tests/support/consistency.py): every accepted command must be in the views exactly once.
"""

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.db import connections

from eventstore.models import Event
from eventstore.projections.base import all_projections
from eventstore.rebuild.orchestration import rebuild_projections
from eventstore.tasks import catch_up_all_projections
from tests.support.api import ApiClient, new_key, place, register
from tests.support.beat import BeatProcess
from tests.support.consistency import (
    events_applied,
    handled_events_in_log,
    projections_at_head,
    wait_for_views_to_match,
)
from tests.support.gunicorn import GunicornProcess
from tests.support.processes import WorkerProcess
from tests.support.workload import Milestone, command_burst, run_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def _nudge() -> None:
    """What beat does every few seconds in production: queue a catch-up of every projection."""
    catch_up_all_projections.delay()


def _wait_at_head(timeout: float = 60.0, nudge: Callable[[], None] | None = _nudge) -> None:
    deadline = time.monotonic() + timeout
    while not projections_at_head():
        assert time.monotonic() < deadline, "projections did not reach the head of the log"
        if nudge is not None:
            nudge()
        time.sleep(0.3)


def _register(api: ApiClient, skus: list[str], stock: int = 10_000) -> None:
    for sku in skus:
        response = register(api, sku, stock=stock, expect=None)
        assert response.status_code == 201, response.text


def test_worker_killed_mid_burst_then_restarted_applies_every_command_exactly_once(
    start_gunicorn: Callable[..., GunicornProcess],
    running_worker: WorkerProcess,
    beat: BeatProcess,
    staff_token: str,
    api_for: Callable[..., ApiClient],
) -> None:
    """Nothing but beat triggers the recovery: the killed worker's coalescing flags are stuck (and
    on Redis its unacked catch-ups, until the visibility timeout; RabbitMQ requeues them at once),
    so beat must get past them, well within the flags' 30 s."""
    node = start_gunicorn()
    run = uuid.uuid4().hex[:8]
    skus = [f"kw-{run}-{i}" for i in range(3)]
    customers = [f"kw-{run}-c{i}" for i in range(3)]
    _register(api_for(node.url, staff_token), skus)
    _wait_at_head()
    applied_before, handled_before = events_applied(), handled_events_in_log()

    halfway = Milestone(threshold=20)
    burst = [
        (
            lambda c=c, i=i: command_burst(
                api_for(node.url, staff_token),
                customer=c,
                skus=skus,
                commands=20,
                seed=i,
                on_accepted=halfway.increment,
            )
        )
        for i, c in enumerate(customers)
    ]
    accepted_at_kill: list[int] = []

    def kill_at_halfway() -> None:
        halfway.reached.wait(60)
        running_worker.kill()  # kill -9 while the burst is still sending commands and triggers
        accepted_at_kill.append(halfway.value)

    outcomes = [o for o in run_threads([*burst, kill_at_halfway]) if o is not None]
    assert accepted_at_kill and sum(o.accepted for o in outcomes) > accepted_at_kill[0], "the kill was not mid-burst"
    assert [e for o in outcomes for e in o.errors] == []
    assert sum(o.accepted for o in outcomes) >= 30, [o.refused for o in outcomes]

    running_worker.start()
    api = api_for(node.url, staff_token)
    wait_for_views_to_match(api, skus=skus, customer_ids=customers, timeout=20)  # beat alone, every second
    _wait_at_head(timeout=20, nudge=None)

    created = sorted(order_id for o in outcomes for order_id in o.created)
    logged = sorted(
        Event.objects.filter(event_type="OrderCreated", data__customer_id__in=customers).values_list(
            "data__order_id", flat=True
        )
    )
    assert created == logged
    applied_after, handled_after = events_applied(), handled_events_in_log()
    assert {n: applied_after[n] - applied_before[n] for n in applied_after} == {
        n: handled_after[n] - handled_before[n] for n in handled_after
    }


# kill -9 of gunicorn ----------------------------------------------------------------

_RETRYABLE = {409, 502, 503, 504}


def _send_until_answered(
    api: ApiClient,
    key: str,
    path: str,
    body: dict[str, Any],
    server_errors: list[str],
    dropped: list[str],
    deadline: float,
) -> requests.Response | None:
    """Send one keyed command, retrying the same request with the same Idempotency-Key until it is answered."""
    while time.monotonic() < deadline:
        try:
            response = api.post(path, body, key=key)
        except requests.RequestException:
            dropped.append(key)
            time.sleep(0.2)  # the node is down or restarting: same request, same key, again
            continue
        if response.status_code >= 500:
            server_errors.append(f"{response.status_code}: {response.text[:300]}")
        if response.status_code in _RETRYABLE or response.status_code >= 500:
            time.sleep(0.1)
            continue
        return response
    return None


def test_gunicorn_killed_under_load_retries_with_the_same_key_never_double_anything(
    start_gunicorn: Callable[..., GunicornProcess],
    running_worker: WorkerProcess,
    staff_token: str,
    api_for: Callable[..., ApiClient],
) -> None:
    """Half the keys create orders, half add a line to an order each client opened first."""
    node = start_gunicorn()
    run = uuid.uuid4().hex[:8]
    skus = [f"kg-{run}-{i}" for i in range(4)]
    customer = f"kg-{run}"
    setup = api_for(node.url, staff_token)
    _register(setup, skus)
    opened = [place(setup, (skus[c], 1), customer_id=customer).json()["id"] for c in range(4)]
    plans: list[list[tuple[str, str, dict[str, Any]]]] = [[] for _ in range(4)]
    for i in range(48):
        client_no = i % 4
        if i % 2:
            body = {"product_id": skus[i % 4], "quantity": 1 + i % 3}
            plans[client_no].append((new_key(), f"orders/{opened[client_no]}/items/", body))
        else:
            body = {
                "customer_id": customer,
                "items": [{"product_id": skus[i % 4], "quantity": 1 + i % 3}],
                "shipping_address": {"street": f"{i} Retry Road"},
            }
            plans[client_no].append((new_key(), "orders/", body))
    answers: dict[str, requests.Response | None] = {}
    server_errors: list[str] = []
    dropped: list[str] = []
    third = Milestone(threshold=48 // 3)
    deadline = time.monotonic() + 120

    def client(plan: list[tuple[str, str, dict[str, Any]]]) -> None:
        api = api_for(node.url, staff_token)
        for key, path, body in plan:
            answers[key] = _send_until_answered(api, key, path, body, server_errors, dropped, deadline)
            third.increment()

    def crash_and_restart() -> None:
        third.reached.wait(60)
        node.kill()  # SIGKILL to master and workers, requests in flight included
        node.start()

    run_threads([*(lambda p=p: client(p) for p in plans), crash_and_restart], timeout=150)

    assert server_errors == []
    assert dropped, "the kill should have dropped requests in flight (or refused them while down)"
    assert [key for key, response in answers.items() if response is None] == [], "never answered after restart"
    assert {r.status_code // 100 for r in answers.values() if r is not None} == {2}
    creates = {key: answers[key].json()["id"] for plan in plans for key, path, _ in plan if path == "orders/"}
    assert len(set(creates.values())) == len(creates), "two keys answered with the same order"
    logged = Event.objects.filter(event_type="OrderCreated", data__customer_id=customer)
    assert sorted(logged.values_list("data__order_id", flat=True)) == sorted([*creates.values(), *opened]), (
        "an order was doubled or an accepted one lost"
    )
    for client_no, order_id in enumerate(opened):
        added = sum(1 for _, path, _ in plans[client_no] if path.endswith("/items/"))
        lines = Event.objects.filter(stream_id=f"Order-{order_id}", event_type="OrderItemAdded").count()
        assert lines == 1 + added, f"order {order_id}: {lines} lines for {added} keyed additions (+1 at creation)"

    events_before = Event.objects.count()
    api = api_for(node.url, staff_token)
    for key, path, body in (step for plan in plans for step in plan):  # late retries replay, append nothing
        first, replay = answers[key], api.post(path, body, key=key)
        assert first is not None and (replay.status_code, replay.json()) == (first.status_code, first.json())
    assert Event.objects.count() == events_before
    wait_for_views_to_match(api, skus=skus, customer_ids=[customer], timeout=60, nudge=_nudge)


# Rebuild under query load ------------------------------------------------------------


REBUILD_ROUNDS = 3
REBUILD_BATCH = 20


def _rebuild_all_in_small_batches() -> None:
    """Blue/green rebuilds of every projection, in batches small enough to commit many times.

    In-process (no interpreter start-up), in several rounds and small batches, so the
    queries overlap many batch commits and every table swap rather than just a start-up.
    """
    try:
        for _ in range(REBUILD_ROUNDS):
            rebuild_projections([p.name for p in all_projections()], batch_size=REBUILD_BATCH)
    finally:
        connections.close_all()  # this thread's connections


def _view_snapshot(api: ApiClient, *, customer: str, skus: list[str]) -> dict[str, Any]:
    """Everything the views say about these orders and products, as the API answers it."""
    orders = api.orders_of(customer)
    return {
        "orders": orders,
        "details": {o["order_id"]: api.order(o["order_id"]).json() for o in orders},
        "products": {sku: api.product(sku).json() for sku in skus},
        "search": list(api.iter_pages("orders/search/", q=customer)),
    }


def _query_once(reader: ApiClient, i: int, before: dict[str, Any], *, customer: str, skus: list[str]) -> str | None:
    """One list, detail, search or product query; the failure it shows, or None when it answered as before."""
    ids = sorted(before["details"])
    order_id, sku = ids[i % len(ids)], skus[i % len(skus)]
    match i % 4:
        case 0:
            name, response = "list", reader.get("orders/", customer_id=customer, page_size=100)
            ok = response.status_code == 200 and response.json()["count"] == len(ids)
        case 1:
            name, response = "detail", reader.order(order_id)
            ok = response.status_code == 200 and response.json() == before["details"][order_id]
        case 2:
            name, response = "search", reader.get("orders/search/", q=customer, page_size=100)
            ok = response.status_code == 200 and response.json()["count"] == len(ids)
        case _:
            name, response = "product", reader.product(sku)
            ok = response.status_code == 200 and response.json() == before["products"][sku]
    return None if ok else f"{name}: {response.status_code} {response.text[:300]}"


def test_rebuild_under_query_load_fails_no_query_and_changes_no_view(
    start_gunicorn: Callable[..., GunicornProcess],
    running_worker: WorkerProcess,
    staff_token: str,
    api_for: Callable[..., ApiClient],
) -> None:
    node = start_gunicorn()
    run = uuid.uuid4().hex[:8]
    skus = [f"rb-{run}-{i}" for i in range(4)]
    customer = f"rb-{run}"
    _register(api_for(node.url, staff_token), skus)
    outcome = command_burst(api_for(node.url, staff_token), customer=customer, skus=skus, commands=60, seed=7)
    assert outcome.errors == []
    api = api_for(node.url, staff_token)
    wait_for_views_to_match(api, skus=skus, customer_ids=[customer], timeout=60, nudge=_nudge)
    _wait_at_head()
    before = _view_snapshot(api, customer=customer, skus=skus)
    assert len(before["orders"]) == len(outcome.created) > 0

    failures: list[str] = []
    queries = 0
    rebuilding = threading.Event()
    rebuilding.set()

    def query_loop(seed: int) -> None:
        nonlocal queries
        reader = api_for(node.url, staff_token)
        for i in range(seed, seed + 2000):  # bounded: stops as soon as the rebuild has finished
            if not rebuilding.is_set():
                break
            failure = _query_once(reader, i, before, customer=customer, skus=skus)
            queries += 1
            if failure:
                failures.append(failure)

    def rebuild() -> None:
        try:
            _rebuild_all_in_small_batches()
        finally:
            rebuilding.clear()

    run_threads([*(lambda s=s: query_loop(s) for s in range(3)), rebuild], timeout=150)

    assert failures == []
    assert queries > 0
    _wait_at_head()
    assert _view_snapshot(api, customer=customer, skus=skus) == before

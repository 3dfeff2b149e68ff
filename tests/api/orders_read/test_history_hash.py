"""GET /api/orders/{id}/history/ shows each event's hash, chained to the one before (API.md "Tamper evidence")."""

import json

import pytest
from rest_framework.test import APIClient

from eventstore.models import Event
from eventstore.tamper.canonical import event_hash
from tests.support.api import place, register

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("eager_tasks"),
]


def test_history_shows_each_events_stored_hash(staff_client: APIClient, customer_client: APIClient) -> None:
    register(staff_client, "MUG-1", price="9.99", stock=5)
    order = place(customer_client, ("MUG-1", 2)).json()["id"]
    assert (
        customer_client.post(f"/api/orders/{order}/cancel/", {"reason": "changed my mind"}, format="json").status_code
        == 200
    )
    history = customer_client.get(f"/api/orders/{order}/history/").json()
    stored = {e.version: e for e in Event.objects.filter(stream_id=f"Order-{order}")}
    assert [e["hash"] for e in history] == [stored[e["version"]].hash for e in history]
    assert all(len(e["hash"]) == 64 and int(e["hash"], 16) >= 0 for e in history)
    assert len({e["hash"] for e in history}) == len(history) == 3  # created, item added, cancelled


def test_the_first_event_chains_to_the_empty_hash(staff_client: APIClient, customer_client: APIClient) -> None:
    register(staff_client, "TEA-9", price="4.50", stock=5)
    order = place(customer_client, ("TEA-9", 1)).json()["id"]
    created, *_ = customer_client.get(f"/api/orders/{order}/history/").json()
    event = Event.objects.get(stream_id=f"Order-{order}", version=1)
    assert created["hash"] == event_hash(
        "",
        event.stream_id,
        1,
        event.event_type,
        event.schema_version,
        json.dumps(event.data),
        json.dumps(event.metadata),
        event.recorded_at,
    )

"""End to end with a real Celery worker: commands over HTTP, then queries carrying the
command's consistency token wait for the worker's projections and answer fresh and exact."""

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.integration.orders_read.support import clean_views  # noqa: F401  (fixture)
from tests.support.api import place, register

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("celery_worker_process", "clean_views"),
]

WAIT = {"HTTP_X_CONSISTENCY_TIMEOUT": "10"}


def fresh_get(client: APIClient, path: str, token: str) -> Any:
    response = client.get(path, HTTP_X_CONSISTENCY_TOKEN=token, **WAIT)
    assert response.status_code == 200, response.content
    assert response["X-Consistency"] == "fresh", path
    return response.json()


def test_commands_then_token_queries_are_fresh_and_exact(
    staff_client: APIClient, customer_client: APIClient, other_client: APIClient
) -> None:
    from config.celery_app import app

    assert not app.conf.task_always_eager  # the worker subprocess, not this process, runs the projections
    token = register(staff_client, "MUG-1", name="Blue Mug", price="9.99", stock=10).json()["consistency_token"]
    assert fresh_get(customer_client, "/api/products/MUG-1/", token)["available"] == 10
    register(staff_client, "TEA-9", name="Green Tea", price="4.50", stock=5)

    kept = place(customer_client, ("MUG-1", 2), ("TEA-9", 1)).json()
    order = fresh_get(customer_client, f"/api/orders/{kept['id']}/", kept["consistency_token"])
    assert (order["status"], order["item_count"], order["total_amount"]) == ("pending", 3, "24.48")

    dropped = place(other_client, ("MUG-1", 3)).json()
    cancel = staff_client.post(f"/api/orders/{dropped['id']}/cancel/", {"reason": "duplicate"}, format="json")
    assert cancel.status_code == 200
    assert (
        fresh_get(other_client, f"/api/orders/{dropped['id']}/", cancel.json()["consistency_token"])["status"]
        == "cancelled"
    )

    shipped = staff_client.post(f"/api/orders/{kept['id']}/ship/", {}, format="json").json()
    last = shipped["consistency_token"]
    assert fresh_get(customer_client, f"/api/orders/{kept['id']}/", last)["status"] == "shipped"
    mug = fresh_get(staff_client, "/api/products/MUG-1/", last)
    assert (mug["on_hand"], mug["reserved"], mug["available"]) == (8, 0, 8)
    tea = fresh_get(staff_client, "/api/products/TEA-9/", last)
    assert (tea["on_hand"], tea["reserved"], tea["available"]) == (4, 0, 4)
    (day,) = fresh_get(staff_client, "/api/analytics/sales/", last)["results"]
    # gross figures: 2 and 3 mugs at 9.99 and a tea at 4.50, the cancelled order included
    assert (day["orders"], day["units"], day["revenue"], day["cancelled"]) == (2, 6, "54.45", 1)
    mine = fresh_get(customer_client, "/api/customers/alice/orders/", last)["results"]
    assert [o["order_id"] for o in mine] == [kept["id"]]
    found = fresh_get(staff_client, "/api/orders/search/?q=green", last)["results"]
    assert [o["order_id"] for o in found] == [kept["id"]]
    status = {r["name"]: r for r in staff_client.get("/api/projections/").json()["results"]}
    assert all(r["status"] == "active" for r in status.values())

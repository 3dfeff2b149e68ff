"""Read your writes over HTTP: tokens, timeouts, fresh and stale answers (API.md)."""

import pytest
from rest_framework.test import APIClient

from eventstore.projections.runner import catch_up
from tests.integration.orders_read.support import LogWriter, wait_readable
from tests.support.api import place, register

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.mark.usefixtures("eager_tasks")
def test_a_command_token_gives_a_fresh_exact_answer(staff_client: APIClient, customer_client: APIClient) -> None:
    register(staff_client, "MUG-1", price="3.00", stock=4)
    placed = place(customer_client, ("MUG-1", 3)).json()
    response = customer_client.get(f"/api/orders/{placed['id']}/", HTTP_X_CONSISTENCY_TOKEN=placed["consistency_token"])
    assert response.status_code == 200
    assert response["X-Consistency"] == "fresh" and "Warning" not in response
    assert response.json()["total_amount"] == "9.00"
    product = staff_client.get(f"/api/products/MUG-1/?consistency_token={placed['consistency_token']}")
    assert product["X-Consistency"] == "fresh" and product.json()["available"] == 1


@pytest.mark.usefixtures("eager_tasks")
def test_no_token_no_consistency_header(staff_client: APIClient) -> None:
    register(staff_client, "MUG-1")
    assert "X-Consistency" not in staff_client.get("/api/products/MUG-1/")


@pytest.mark.usefixtures("manual_projections")
def test_past_the_timeout_the_answer_is_marked_stale(staff_client: APIClient) -> None:
    log = LogWriter()
    log.product("MUG-1", stock=1)
    wait_readable()
    catch_up("catalogue")
    token = log.receive("MUG-1", 5).checkpoint.token()  # no projection runs: the view stays behind
    response = staff_client.get(
        "/api/products/MUG-1/", HTTP_X_CONSISTENCY_TOKEN=token, HTTP_X_CONSISTENCY_TIMEOUT="0.05"
    )
    assert response.status_code == 200
    assert response["X-Consistency"] == "stale"
    assert response["Warning"] == '110 - "Response is Stale"'
    assert response.json()["on_hand"] == 1  # what it has
    wait_readable()
    catch_up("catalogue")
    fresh = staff_client.get("/api/products/MUG-1/", HTTP_X_CONSISTENCY_TOKEN=token)
    assert fresh["X-Consistency"] == "fresh" and fresh.json()["on_hand"] == 6


@pytest.mark.usefixtures("manual_projections")
def test_a_404_past_the_timeout_is_marked_stale_and_one_the_views_have_passed_fresh(
    staff_client: APIClient, customer_client: APIClient
) -> None:
    """A client must tell "not in the views yet" from "not there" (API.md, Read your writes)."""
    log = LogWriter()
    log.product("A", stock=3)
    order_id, appended = log.order("alice", [("A", 1)])
    token = appended.checkpoint.token()  # no projection runs: neither the product nor the order is in a view
    for client, path in ((staff_client, "/api/products/A/"), (customer_client, f"/api/orders/{order_id}/")):
        stale = client.get(path, HTTP_X_CONSISTENCY_TOKEN=token, HTTP_X_CONSISTENCY_TIMEOUT="0.05")
        assert stale.status_code == 404
        assert stale["X-Consistency"] == "stale"
        assert stale["Warning"] == '110 - "Response is Stale"'
    wait_readable()
    for name in ("catalogue", "order_summary"):
        catch_up(name)
    missing = staff_client.get("/api/products/NOPE/", HTTP_X_CONSISTENCY_TOKEN=token)
    assert missing.status_code == 404
    assert missing["X-Consistency"] == "fresh" and "Warning" not in missing
    assert "X-Consistency" not in staff_client.get("/api/products/NOPE/")


@pytest.mark.usefixtures("manual_projections")
def test_history_is_fresh_at_once_because_it_reads_the_log(customer_client: APIClient) -> None:
    log = LogWriter()
    log.product("A", stock=3)
    order_id, appended = log.order("alice", [("A", 1)])
    response = customer_client.get(
        f"/api/orders/{order_id}/history/", HTTP_X_CONSISTENCY_TOKEN=appended.checkpoint.token()
    )
    assert response["X-Consistency"] == "fresh" and len(response.json()) == 2


@pytest.mark.parametrize("token", ["abc", "1-", "-1", "1-2-3", "\uff11-\uff12", "9" * 30 + "-1", " "])
def test_malformed_token_is_400(anon_client: APIClient, token: str) -> None:
    response = anon_client.get("/api/products/", HTTP_X_CONSISTENCY_TOKEN=token)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_consistency_token"
    assert anon_client.get("/api/products/", {"consistency_token": token}).status_code == 400


@pytest.mark.parametrize("timeout", ["11", "-1", "abc", "nan", "inf", "1e3"])
def test_bad_timeout_is_400(anon_client: APIClient, timeout: str) -> None:
    response = anon_client.get("/api/products/", HTTP_X_CONSISTENCY_TOKEN="0-1", HTTP_X_CONSISTENCY_TIMEOUT=timeout)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_consistency_timeout"

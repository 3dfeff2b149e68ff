"""If-Match (412), Idempotency-Key (replay, reuse), and requests that must never be a 500."""

import pytest

from tests.support.api import ADDRESS, assert_refused, event_count, place, product, register

pytestmark = pytest.mark.django_db


def test_stale_if_match_is_412_with_expected_and_actual(staff_client) -> None:
    register(staff_client, "mug", stock=5)  # version 2
    staff_client.post("/api/products/mug/stock/", {"quantity": 1}, format="json")  # version 3
    before = event_count()
    response = staff_client.post("/api/products/mug/stock/", {"quantity": 1}, format="json", HTTP_IF_MATCH='"2"')
    assert_refused(response, 412, "version_mismatch", before)
    assert response.json()["expected"] == 2 and response.json()["actual"] == 3
    assert product("mug").on_hand == 6


def test_current_if_match_is_accepted(staff_client, customer_client) -> None:
    register(staff_client, "mug", stock=5)
    response = staff_client.post("/api/products/mug/price/", {"price": "3.00"}, format="json", HTTP_IF_MATCH='"2"')
    assert response.status_code == 200 and response["ETag"] == '"3"'
    order_id = place(customer_client, ("mug", 1)).json()["id"]
    before = event_count()
    stale = customer_client.post(f"/api/orders/{order_id}/cancel/", {"reason": "x"}, format="json", HTTP_IF_MATCH='"1"')
    assert_refused(stale, 412, "version_mismatch", before)
    assert (stale.json()["expected"], stale.json()["actual"]) == (1, 2)
    weak = customer_client.post(
        f"/api/orders/{order_id}/cancel/", {"reason": "x"}, format="json", HTTP_IF_MATCH='W/"2"'
    )  # strong comparison (RFC 9110): a weak tag never matches
    assert_refused(weak, 412, "version_mismatch", before)
    assert (weak.json()["expected"], weak.json()["actual"]) == (2, 2)
    fresh = customer_client.post(f"/api/orders/{order_id}/cancel/", {"reason": "x"}, format="json", HTTP_IF_MATCH='"2"')
    assert fresh.status_code == 200


def test_malformed_if_match_is_400(staff_client) -> None:
    register(staff_client, "mug")
    before = event_count()
    response = staff_client.post("/api/products/mug/stock/", {"quantity": 1}, format="json", HTTP_IF_MATCH="v2")
    assert_refused(response, 400, "invalid_if_match", before)


def test_a_replayed_key_returns_the_first_answer_and_appends_nothing(staff_client, customer_client) -> None:
    register(staff_client, "mug", stock=5)
    body = {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": ADDRESS}
    first = customer_client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == 201
    before = event_count()
    again = customer_client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert again.status_code == 201
    assert again.content == first.content
    assert (again["ETag"], again["X-Consistency-Token"]) == (first["ETag"], first["X-Consistency-Token"])
    assert event_count() == before
    assert product("mug").reserved == 1


def test_a_key_reused_with_another_body_is_422(staff_client, customer_client) -> None:
    register(staff_client, "mug", stock=5)
    body = {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": ADDRESS}
    customer_client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    before = event_count()
    body["items"][0]["quantity"] = 2
    response = customer_client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert_refused(response, 422, "idempotency_key_reused", before)


def test_keys_belong_to_their_user(staff_client, customer_client, other_client) -> None:
    register(staff_client, "mug", stock=5)
    body = {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": ADDRESS}
    first = customer_client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    second = other_client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert second.status_code == 201 and second.json()["id"] != first.json()["id"]


def test_a_refused_command_is_not_stored_under_its_key(staff_client, customer_client) -> None:
    register(staff_client, "mug", stock=1)
    body = {"items": [{"product_id": "mug", "quantity": 2}], "shipping_address": ADDRESS}
    refused = customer_client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert refused.status_code == 422
    staff_client.post("/api/products/mug/stock/", {"quantity": 1}, format="json")
    retried = customer_client.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert retried.status_code == 201


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_empty_or_overlong_key_is_400(staff_client, key) -> None:
    before = event_count()
    response = staff_client.post(
        "/api/products/", {"sku": "mug", "name": "M", "price": "1"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert_refused(response, 400, "invalid_idempotency_key", before)


def test_options_head_and_get_on_command_routes_never_500(staff_client) -> None:
    register(staff_client, "mug")
    for url in (
        "/api/products/mug/stock/",
        "/api/products/mug/price/",
        "/api/orders/00000000-0000-4000-8000-000000000000/ship/",
    ):
        assert staff_client.options(url).status_code == 200
        assert staff_client.head(url).status_code == 405
        assert staff_client.get(url).status_code == 405
    for url in ("/api/products/", "/api/orders/", "/api/orders/00000000-0000-4000-8000-000000000000/"):
        assert staff_client.options(url).status_code == 200


def test_a_body_over_one_mebibyte_is_413(staff_client) -> None:
    before = event_count()
    big = {"sku": "mug", "name": "M", "price": "1", "description": "x" * (1024 * 1024 + 1)}
    assert_refused(staff_client.post("/api/products/", big, format="json"), 413, None, before)


@pytest.mark.parametrize("body", ["[" * 5000 + "]" * 5000, "[" * 5000, '{"a":' * 3000 + "1" + "}" * 3000])
def test_json_nested_too_deep_is_a_400_parse_error_everywhere(staff_client, anon_client, body) -> None:
    """Python's decoder gives up past ~1000 levels with RecursionError; that must not become a 500."""
    before = event_count()
    for client, url in (
        (staff_client, "/api/products/"),
        (staff_client, "/api/orders/"),
        (anon_client, "/api/auth/token/"),
    ):
        response = client.post(url, body, content_type="application/json")
        assert_refused(response, 400, "parse_error", before)

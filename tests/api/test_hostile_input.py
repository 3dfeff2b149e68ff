"""Text nothing can store, bodies sent in chunks, and consistency tokens no command gave: 400 at once, the log
untouched (API.md, Errors)."""

import json
import time

import pytest

from tests.support.api import ADDRESS, event_count, place, register

pytestmark = pytest.mark.django_db(databases="__all__")

NUL, SURROGATE = "\x00", "\ud800"


@pytest.fixture
def mug(staff_client) -> None:
    register(staff_client, "mug", stock=5)


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize("where", ["address_key", "address_value", "ignored_field", "nested_key"])
def test_unstorable_text_anywhere_in_a_body_is_400_and_appends_nothing(customer_client, mug, bad, where) -> None:
    body = {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": dict(ADDRESS)}
    if where == "address_key":
        body["shipping_address"][f"door{bad}"] = "3"
    elif where == "address_value":
        body["shipping_address"]["door"] = f"3{bad}"
    elif where == "ignored_field":
        body["note"] = f"x{bad}"
    else:
        body["items"][0][f"extra{bad}"] = 1
    before = event_count()
    # json.dumps escapes both as \u0000 and \ud800, as a client's encoder would
    response = customer_client.post("/api/orders/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content
    assert event_count() == before


def test_a_lone_surrogate_escaped_in_the_raw_json_is_400(customer_client, mug) -> None:
    raw = '{"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": {"\\ud800": "x"}}'
    before = event_count()
    response = customer_client.post("/api/orders/", raw, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error")
    assert event_count() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/products/mug%00/",
        "/api/products/%ED%A0%80/",
        "/api/customers/al%00ice/orders/",
        "/api/orders/%00/",
        "/api/products/mug%00/stock/",
    ],
)
def test_unstorable_text_in_a_path_segment_is_400(staff_client, mug, path) -> None:
    before = event_count()
    response = (
        staff_client.post(path, {"quantity": 1}, format="json") if path.endswith("stock/") else staff_client.get(path)
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_path"), response.content
    assert event_count() == before


@pytest.mark.parametrize(
    "query",
    [
        "status=pend%00ing",
        "customer_id=%ED%A0%80",
        "ordering=%00",
        "page=1%00",
        "q%00=x",
    ],
)
def test_unstorable_text_in_a_query_parameter_is_a_400_field_error(staff_client, query) -> None:
    response = staff_client.get(f"/api/orders/?{query}")
    assert response.status_code == 400, response.content
    assert all(isinstance(messages, list) for messages in response.json().values())


def test_a_consistency_token_beyond_the_log_is_400_at_once(customer_client, mug) -> None:
    token = place(customer_client, ("mug", 1))["X-Consistency-Token"]
    txid, position = token.split("-")
    for beyond in (f"{txid}-{int(position) + 1000}", f"{int(txid) + 10**9}-{10**15}"):
        started = time.monotonic()
        response = customer_client.get("/api/orders/", HTTP_X_CONSISTENCY_TOKEN=beyond, HTTP_X_CONSISTENCY_TIMEOUT="10")
        assert (response.status_code, response.json()["code"]) == (400, "invalid_consistency_token")
        assert time.monotonic() - started < 5  # not held for the 10 s it asked for
    assert customer_client.get("/api/orders/", HTTP_X_CONSISTENCY_TOKEN=token).status_code == 200


@pytest.mark.postgres
def test_a_token_with_a_real_position_and_another_transaction_is_400(customer_client, mug) -> None:
    token = place(customer_client, ("mug", 1))["X-Consistency-Token"]
    txid, position = token.split("-")
    response = customer_client.get("/api/orders/", HTTP_X_CONSISTENCY_TOKEN=f"{int(txid) + 1}-{position}")
    assert response.status_code == 400


def test_a_body_sent_in_chunks_is_400_and_appends_nothing(customer_client, mug) -> None:
    """Under WSGI a chunked body (no Content-Length) arrives empty: refused as such, not for its fields."""
    before = event_count()
    response = customer_client.generic(
        "POST", "/api/orders/", b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "length_required"
    assert event_count() == before
    assert place(customer_client, ("mug", 1)).status_code == 201  # a body with its length is taken

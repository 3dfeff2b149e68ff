"""Product commands over HTTP: register, receive stock, change price (staff only)."""

from decimal import Decimal

import pytest

from eventstore.log.append import read_stream
from tests.support.api import assert_refused, event_count, product, register

pytestmark = pytest.mark.django_db


def test_register_answers_201_with_version_etag_and_consistency_token(staff_client) -> None:
    response = register(staff_client, "mug.blue-1", name="Mug.Blue-1", price="9.99", stock=5)
    body = response.json()
    assert body == {"id": "mug.blue-1", "version": 2, "consistency_token": body["consistency_token"]}
    assert response["ETag"] == '"2"'
    assert response["X-Consistency-Token"] == body["consistency_token"]
    assert [e.event_type for e in read_stream("Product-mug.blue-1")] == ["ProductRegistered", "StockReceived"]
    mug = product("mug.blue-1")
    assert (mug.name, mug.price, mug.on_hand, mug.available) == ("Mug.Blue-1", Decimal("9.99"), 5, 5)


def test_register_without_initial_stock_appends_only_the_registration(staff_client) -> None:
    response = staff_client.post("/api/products/", {"sku": "tea", "name": "Tea", "price": "3"}, format="json")
    assert response.status_code == 201
    assert response.json()["version"] == 1
    assert product("tea").on_hand == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"sku": "-mug", "name": "M", "price": "1.00"}, "sku"),
        ({"sku": "a b", "name": "M", "price": "1.00"}, "sku"),
        ({"sku": "x" * 65, "name": "M", "price": "1.00"}, "sku"),
        ({"sku": 123, "name": "M", "price": "1.00"}, "sku"),
        ({"sku": "mug", "name": "M", "price": "0"}, "price"),
        ({"sku": "mug", "name": "M", "price": "-1.00"}, "price"),
        ({"sku": "mug", "name": "M", "price": "1.234"}, "price"),
        ({"sku": "mug", "name": "M", "price": "NaN"}, "price"),
        ({"sku": "mug", "name": "M", "price": "Infinity"}, "price"),
        ({"sku": "mug", "name": "M", "price": "abc"}, "price"),
        ({"sku": "mug", "price": "1.00"}, "name"),
        ({"sku": "mug", "name": 5, "price": "1.00"}, "name"),
        ({"sku": "mug", "name": "M", "price": "1.00", "initial_stock": -1}, "initial_stock"),
        ({"sku": "mug", "name": "M", "price": "1.00", "initial_stock": "many"}, "initial_stock"),
    ],
)
def test_register_refuses_bad_shapes_with_400(staff_client, body, field) -> None:
    before = event_count()
    response = staff_client.post("/api/products/", body, format="json")
    assert_refused(response, 400, None, before)
    assert field in response.json()


def test_register_refuses_an_existing_sku_with_409(staff_client) -> None:
    register(staff_client, "mug")
    before = event_count()
    response = staff_client.post("/api/products/", {"sku": "mug", "name": "Again", "price": "1.00"}, format="json")
    assert_refused(response, 409, "already_exists", before)


def test_product_commands_are_staff_only(customer_client, anon_client, staff_client) -> None:
    register(staff_client, "mug")
    before = event_count()
    for client, status in ((customer_client, 403), (anon_client, 401)):
        assert_refused(
            client.post("/api/products/", {"sku": "x", "name": "X", "price": "1"}, format="json"), status, None, before
        )
        assert_refused(client.post("/api/products/mug/stock/", {"quantity": 1}, format="json"), status, None, before)
        assert_refused(client.post("/api/products/mug/price/", {"price": "2"}, format="json"), status, None, before)


def test_bad_content_is_400_or_415_never_500(staff_client) -> None:
    before = event_count()
    assert_refused(staff_client.post("/api/products/", [{"sku": "mug"}], format="json"), 400, None, before)
    assert_refused(staff_client.post("/api/products/", "{not json", content_type="application/json"), 400, None, before)
    assert_refused(staff_client.post("/api/products/", {"sku": "mug", "name": "M", "price": "1"}), 415, None, before)
    assert_refused(staff_client.post("/api/products/", "NaN", content_type="application/json"), 400, None, before)


def test_receive_stock_adds_to_on_hand(staff_client) -> None:
    register(staff_client, "mug", stock=2)
    response = staff_client.post("/api/products/mug/stock/", {"quantity": 5}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 3
    assert response["ETag"] == '"3"'
    assert product("mug").on_hand == 7


@pytest.mark.parametrize("quantity", [0, -3, 1.5, "x", None, 10**7])
def test_receive_stock_refuses_bad_quantities_with_400(staff_client, quantity) -> None:
    register(staff_client, "mug")
    before = event_count()
    assert_refused(
        staff_client.post("/api/products/mug/stock/", {"quantity": quantity}, format="json"), 400, None, before
    )


def test_receive_stock_for_an_unknown_product_is_404(staff_client) -> None:
    before = event_count()
    response = staff_client.post("/api/products/ghost/stock/", {"quantity": 1}, format="json")
    assert_refused(response, 404, "not_found", before)


def test_change_price_records_old_and_new(staff_client) -> None:
    register(staff_client, "mug", price="9.99")
    response = staff_client.post("/api/products/mug/price/", {"price": "12.50"}, format="json")
    assert response.status_code == 200
    [changed] = read_stream("Product-mug", after_version=2)
    assert changed.data == {"product_id": "mug", "old_price": "9.99", "new_price": "12.50"}
    assert product("mug").price == Decimal("12.50")


@pytest.mark.parametrize("price", ["0", "-1", "0.001", "NaN", "-Infinity", None, ""])
def test_change_price_refuses_bad_prices_with_400(staff_client, price) -> None:
    register(staff_client, "mug")
    before = event_count()
    assert_refused(staff_client.post("/api/products/mug/price/", {"price": price}, format="json"), 400, None, before)


def test_change_price_for_an_unknown_product_is_404(staff_client) -> None:
    before = event_count()
    assert_refused(
        staff_client.post("/api/products/ghost/price/", {"price": "1.00"}, format="json"), 404, "not_found", before
    )

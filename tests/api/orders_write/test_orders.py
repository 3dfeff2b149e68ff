"""Order commands over HTTP: create, add an item, cancel (POST and DELETE), ship."""

from decimal import Decimal

import pytest

from eventstore.log.append import read_stream
from tests.support.api import ADDRESS, assert_refused, event_count, order, place, product, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(staff_client) -> None:
    register(staff_client, "mug", price="9.99", stock=10)
    register(staff_client, "tea", price="4.50", stock=3)


def test_create_order_reserves_stock_at_catalogue_prices(customer_client, shop) -> None:
    before = event_count()
    response = customer_client.post(
        "/api/orders/",
        {
            "items": [{"product_id": "mug", "quantity": 2, "unit_price": "0.01"}, {"product_id": "tea", "quantity": 1}],
            "shipping_address": ADDRESS,
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["version"] == 3 and response["ETag"] == '"3"'
    assert response["X-Consistency-Token"] == body["consistency_token"]
    assert event_count() == before + 5
    placed = order(body["id"])
    assert (placed.customer_id, placed.status, placed.shipping_address) == ("alice", "pending", ADDRESS)
    assert placed.total == Decimal("9.99") * 2 + Decimal("4.50")
    assert (product("mug").reserved, product("mug").available, product("tea").available) == (2, 8, 2)
    [reserved] = read_stream("Product-mug", after_version=2)
    assert reserved.data == {"product_id": "mug", "order_id": body["id"], "quantity": 2}
    assert reserved.metadata["user"] == "alice"
    assert set(reserved.metadata) >= {"command_id", "correlation_id", "causation_id", "user"}


def test_lines_of_one_product_reserve_their_sum_once(customer_client, shop) -> None:
    order_id = place(customer_client, ("mug", 2), ("mug", 3)).json()["id"]
    assert [e.event_type for e in read_stream(f"Order-{order_id}")] == [
        "OrderCreated",
        "OrderItemAdded",
        "OrderItemAdded",
    ]
    [reserved] = read_stream("Product-mug", after_version=2)
    assert reserved.data["quantity"] == 5


def test_staff_may_order_for_a_customer(staff_client, shop) -> None:
    order_id = place(staff_client, ("mug", 1), customer_id="carol").json()["id"]
    assert order(order_id).customer_id == "carol"


def test_a_customer_may_not_order_for_someone_else(customer_client, shop) -> None:
    before = event_count()
    assert_refused(place(customer_client, ("mug", 1), expect=None, customer_id="bob"), 422, "customer_mismatch", before)
    assert place(customer_client, ("mug", 1), customer_id="alice").status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"shipping_address": ADDRESS},
        {"items": [], "shipping_address": ADDRESS},
        {"items": "mug", "shipping_address": ADDRESS},
        {"items": [{"product_id": "mug"}], "shipping_address": ADDRESS},
        {"items": [{"product_id": "mug", "quantity": 0}], "shipping_address": ADDRESS},
        {"items": [{"product_id": "mug", "quantity": 10_001}], "shipping_address": ADDRESS},
        {"items": [{"product_id": "mug", "quantity": "lots"}], "shipping_address": ADDRESS},
        {"items": [{"product_id": "bad sku", "quantity": 1}], "shipping_address": ADDRESS},
        {"items": [{"product_id": 123, "quantity": 1}], "shipping_address": ADDRESS},
        {"items": [{"product_id": "mug", "quantity": 1}]},
        {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": ["Oslo"]},
        {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": "Oslo"},
        {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": {"zip": 1234}},
        {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": {"a": {"b": "c"}}},
    ],
)
def test_create_order_refuses_bad_shapes_with_400(customer_client, shop, body) -> None:
    before = event_count()
    assert_refused(customer_client.post("/api/orders/", body, format="json"), 400, None, before)


def test_field_errors_have_api_md_shape_field_to_messages(customer_client, shop) -> None:
    empty = customer_client.post("/api/orders/", {"items": [], "shipping_address": ADDRESS}, format="json")
    assert empty.status_code == 400
    assert empty.json() == {"items": ["This list may not be empty."]}
    missing = customer_client.post("/api/orders/", {"items": [{"product_id": "mug", "quantity": 1}]}, format="json")
    assert missing.json() == {"shipping_address": ["This field is required."]}


def test_create_order_refuses_an_unknown_product_with_422(customer_client, shop) -> None:
    before = event_count()
    assert_refused(place(customer_client, ("mug", 1), ("ghost", 1), expect=None), 422, "unknown_product", before)


def test_create_order_refuses_short_stock_and_reserves_nothing(customer_client, shop) -> None:
    before = event_count()
    assert_refused(place(customer_client, ("mug", 1), ("tea", 4), expect=None), 422, "insufficient_stock", before)
    assert_refused(place(customer_client, ("tea", 2), ("tea", 2), expect=None), 422, "insufficient_stock", before)
    assert (product("mug").reserved, product("tea").reserved) == (0, 0)


def test_add_item_reserves_and_appends_a_line(customer_client, shop) -> None:
    order_id = place(customer_client, ("mug", 1)).json()["id"]
    response = customer_client.post(
        f"/api/orders/{order_id}/items/", {"product_id": "tea", "quantity": 2}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["version"] == 3 and response["ETag"] == '"3"'
    assert order(order_id).quantities() == {"mug": 1, "tea": 2}
    assert product("tea").available == 1


def test_add_item_refusals(customer_client, staff_client, shop) -> None:
    order_id = place(customer_client, ("mug", 1)).json()["id"]
    url = f"/api/orders/{order_id}/items/"
    before = event_count()
    assert_refused(
        customer_client.post(url, {"product_id": "ghost", "quantity": 1}, format="json"), 422, "unknown_product", before
    )
    assert_refused(
        customer_client.post(url, {"product_id": "tea", "quantity": 4}, format="json"),
        422,
        "insufficient_stock",
        before,
    )
    assert_refused(customer_client.post(url, {"product_id": "tea", "quantity": 0}, format="json"), 400, None, before)
    assert_refused(customer_client.post(url, {"quantity": 1}, format="json"), 400, None, before)
    staff_client.post(f"/api/orders/{order_id}/ship/", {}, format="json")
    before = event_count()
    assert_refused(
        customer_client.post(url, {"product_id": "tea", "quantity": 1}, format="json"), 422, "order_not_pending", before
    )


def test_cancel_releases_the_reservation(customer_client, shop) -> None:
    order_id = place(customer_client, ("mug", 2), ("tea", 1), ("mug", 1)).json()["id"]
    response = customer_client.post(f"/api/orders/{order_id}/cancel/", {"reason": "changed my mind"}, format="json")
    assert response.status_code == 200
    assert response.json()["version"] == 5 and response["ETag"] == '"5"'
    cancelled = order(order_id)
    assert (cancelled.status, cancelled.cancel_reason, cancelled.cancelled_by) == (
        "cancelled",
        "changed my mind",
        "alice",
    )
    assert (product("mug").available, product("mug").reserved, product("tea").available) == (10, 0, 3)
    [released] = read_stream("Product-mug", after_version=3)
    assert released.event_type == "StockReleased" and released.data["quantity"] == 3


def test_cancel_twice_or_after_shipping_is_order_not_pending(customer_client, staff_client, shop) -> None:
    first = place(customer_client, ("mug", 1)).json()["id"]
    customer_client.post(f"/api/orders/{first}/cancel/", {"reason": "x"}, format="json")
    second = place(customer_client, ("mug", 1)).json()["id"]
    staff_client.post(f"/api/orders/{second}/ship/", {}, format="json")
    before = event_count()
    for order_id in (first, second):
        assert_refused(
            customer_client.post(f"/api/orders/{order_id}/cancel/", {"reason": "y"}, format="json"),
            422,
            "order_not_pending",
            before,
        )
        assert_refused(customer_client.delete(f"/api/orders/{order_id}/?reason=y"), 422, "order_not_pending", before)


def test_delete_cancels_with_a_reason_from_the_query_or_the_body(customer_client, shop) -> None:
    by_query = place(customer_client, ("mug", 1)).json()["id"]
    response = customer_client.delete(f"/api/orders/{by_query}/?reason=too%20slow")
    assert response.status_code == 200 and response["ETag"] == '"3"'
    assert order(by_query).cancel_reason == "too slow"
    by_body = place(customer_client, ("mug", 1)).json()["id"]
    assert customer_client.delete(f"/api/orders/{by_body}/", {"reason": "typo"}, format="json").status_code == 200
    assert order(by_body).cancel_reason == "typo"
    assert product("mug").reserved == 0


def test_a_cancel_without_a_reason_is_400_and_changes_nothing(customer_client, shop) -> None:
    """API.md marks optional fields with `?`; cancel's `{"reason"}` and DELETE's body-or-query reason have none."""
    order_id = place(customer_client, ("mug", 1)).json()["id"]
    before = event_count()
    for response in (
        customer_client.post(f"/api/orders/{order_id}/cancel/", {}, format="json"),
        customer_client.post(f"/api/orders/{order_id}/cancel/", {"reason": None}, format="json"),
        customer_client.post(f"/api/orders/{order_id}/cancel/", {"reason": 7}, format="json"),
        customer_client.delete(f"/api/orders/{order_id}/"),
        customer_client.delete(f"/api/orders/{order_id}/", {}, format="json"),
    ):
        assert_refused(response, 400, None, before)
        assert "reason" in response.json()
    assert order(order_id).status == "pending" and product("mug").reserved == 1


def test_ship_takes_stock_out_of_the_warehouse(customer_client, staff_client, shop) -> None:
    order_id = place(customer_client, ("mug", 2)).json()["id"]
    response = staff_client.post(f"/api/orders/{order_id}/ship/", {}, format="json")
    assert response.status_code == 200 and response.json()["version"] == 3
    assert order(order_id).status == "shipped" and order(order_id).shipped_by == "staff"
    mug = product("mug")
    assert (mug.on_hand, mug.reserved, mug.available) == (8, 0, 8)


def test_ship_refusals(customer_client, staff_client, shop) -> None:
    order_id = place(customer_client, ("mug", 1)).json()["id"]
    before = event_count()
    assert_refused(
        customer_client.post(f"/api/orders/{order_id}/ship/", {}, format="json"), 403, "permission_denied", before
    )
    staff_client.post(f"/api/orders/{order_id}/cancel/", {"reason": "x"}, format="json")
    before = event_count()
    assert_refused(
        staff_client.post(f"/api/orders/{order_id}/ship/", {}, format="json"), 422, "order_not_pending", before
    )


@pytest.mark.parametrize(
    "method, suffix, body",
    [
        ("post", "items/", {"product_id": "mug", "quantity": 1}),
        ("post", "cancel/", {"reason": "x"}),
        ("delete", "", {"reason": "x"}),
        ("post", "ship/", {}),
    ],
)
def test_an_unknown_order_is_404(staff_client, shop, method, suffix, body) -> None:
    before = event_count()
    url = f"/api/orders/00000000-0000-4000-8000-000000000000/{suffix}"
    assert_refused(getattr(staff_client, method)(url, body, format="json"), 404, "not_found", before)
    assert_refused(
        getattr(staff_client, method)(f"/api/orders/not-a-uuid/{suffix}", body, format="json"), 404, None, before
    )

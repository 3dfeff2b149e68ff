"""Who may send which command: 401 without credentials, and customers only touch their own orders."""

import pytest

from tests.support.api import assert_refused, event_count, order, place, register

pytestmark = pytest.mark.django_db

ORDER = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    "method, url, body",
    [
        ("post", "/api/products/", {"sku": "x", "name": "X", "price": "1.00"}),
        ("post", "/api/products/mug/stock/", {"quantity": 1}),
        ("post", "/api/products/mug/price/", {"price": "1.00"}),
        ("post", "/api/orders/", {"items": [{"product_id": "mug", "quantity": 1}], "shipping_address": {}}),
        ("post", f"/api/orders/{ORDER}/items/", {"product_id": "mug", "quantity": 1}),
        ("post", f"/api/orders/{ORDER}/cancel/", {"reason": "x"}),
        ("delete", f"/api/orders/{ORDER}/", {}),
        ("post", f"/api/orders/{ORDER}/ship/", {}),
    ],
)
def test_every_command_needs_credentials(anon_client, staff_client, method, url, body) -> None:
    register(staff_client, "mug")
    before = event_count()
    response = getattr(anon_client, method)(url, body, format="json")
    assert_refused(response, 401, "not_authenticated", before)
    assert response.has_header("WWW-Authenticate")


@pytest.mark.parametrize(
    "method, suffix, body",
    [
        ("post", "items/", {"product_id": "mug", "quantity": 1}),
        ("post", "cancel/", {"reason": "not mine"}),
        ("delete", "", {"reason": "not mine"}),
        ("post", "ship/", {}),
    ],
)
def test_someone_elses_order_is_404_for_a_customer(
    customer_client, other_client, staff_client, method, suffix, body
) -> None:
    register(staff_client, "mug")
    order_id = place(customer_client, ("mug", 1)).json()["id"]
    before = event_count()
    response = getattr(other_client, method)(f"/api/orders/{order_id}/{suffix}", body, format="json")
    assert_refused(response, 404, "not_found", before)
    assert order(order_id).status == "pending"


def test_staff_may_act_on_any_order(customer_client, staff_client) -> None:
    register(staff_client, "mug")
    order_id = place(customer_client, ("mug", 1)).json()["id"]
    assert (
        staff_client.post(
            f"/api/orders/{order_id}/items/", {"product_id": "mug", "quantity": 1}, format="json"
        ).status_code
        == 200
    )
    assert staff_client.post(f"/api/orders/{order_id}/cancel/", {"reason": "fraud"}, format="json").status_code == 200
    assert order(order_id).cancelled_by == "staff"

"""GET /api/orders/…: the order view, lists, filters, ordering whitelist, search, history, isolation."""

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.integration.orders_read.support import LogWriter, catch_up_all
from tests.support.api import ADDRESS, place, register

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("eager_tasks"),
]

ORDER_FIELDS = {
    "order_id",
    "customer_id",
    "status",
    "items",
    "item_count",
    "total_amount",
    "shipping_address",
    "created_at",
    "shipped_at",
    "cancelled_at",
    "cancel_reason",
    "version",
}


@pytest.fixture
def shop(staff_client: APIClient, customer_client: APIClient, other_client: APIClient) -> dict[str, str]:
    register(staff_client, "MUG-1", name="Blue Mug", price="9.99", stock=50)
    register(staff_client, "TEA-9", name="Green Tea", price="4.50", stock=50)
    alice_mug = place(customer_client, ("MUG-1", 2), ("TEA-9", 1)).json()["id"]
    alice_tea = place(customer_client, ("TEA-9", 3)).json()["id"]
    bob_mug = place(other_client, ("MUG-1", 1)).json()["id"]
    cancelled = staff_client.post(f"/api/orders/{alice_tea}/cancel/", {"reason": "too late"}, format="json")
    assert cancelled.status_code == 200, cancelled.content
    return {"alice_mug": alice_mug, "alice_tea": alice_tea, "bob_mug": bob_mug}


def test_order_view_has_exactly_the_contract_fields(customer_client: APIClient, shop: dict[str, str]) -> None:
    response = customer_client.get(f"/api/orders/{shop['alice_mug']}/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ORDER_FIELDS
    assert body["order_id"] == shop["alice_mug"] and body["customer_id"] == "alice" and body["status"] == "pending"
    assert body["items"] == [
        {"product_id": "MUG-1", "name": "Blue Mug", "quantity": 2, "unit_price": "9.99", "line_total": "19.98"},
        {"product_id": "TEA-9", "name": "Green Tea", "quantity": 1, "unit_price": "4.50", "line_total": "4.50"},
    ]
    assert (body["item_count"], body["total_amount"]) == (3, "24.48")
    assert body["shipping_address"] == ADDRESS
    assert body["created_at"].endswith(("Z", "+00:00")) and body["shipped_at"] is None
    assert response["ETag"] == f'"{body["version"]}"'


def test_cancelled_order_shows_reason_and_time(customer_client: APIClient, shop: dict[str, str]) -> None:
    body = customer_client.get(f"/api/orders/{shop['alice_tea']}/").json()
    assert (body["status"], body["cancel_reason"]) == ("cancelled", "too late")
    assert body["cancelled_at"] is not None


def test_someone_elses_order_is_404_in_detail_and_history(customer_client: APIClient, shop: dict[str, str]) -> None:
    assert customer_client.get(f"/api/orders/{shop['bob_mug']}/").status_code == 404
    assert customer_client.get(f"/api/orders/{shop['bob_mug']}/history/").status_code == 404
    assert customer_client.get("/api/orders/00000000-0000-4000-8000-000000000000/").status_code == 404
    assert customer_client.get("/api/orders/not-a-uuid/").status_code == 404


def test_anonymous_is_401(anon_client: APIClient, shop: dict[str, str]) -> None:
    for path in (
        "/api/orders/",
        f"/api/orders/{shop['alice_mug']}/",
        "/api/orders/search/?q=a",
        "/api/customers/alice/orders/",
        f"/api/orders/{shop['alice_mug']}/history/",
    ):
        assert anon_client.get(path).status_code == 401, path


def test_customer_lists_only_own_orders_staff_sees_all(
    customer_client: APIClient, staff_client: APIClient, shop: dict[str, str]
) -> None:
    mine = customer_client.get("/api/orders/").json()
    assert list(mine) == ["count", "next", "previous", "results", "page", "page_size", "total_pages"]
    assert (mine["page"], mine["page_size"], mine["total_pages"]) == (1, 20, 1)
    assert {o["order_id"] for o in mine["results"]} == {shop["alice_mug"], shop["alice_tea"]}
    assert customer_client.get("/api/orders/?customer_id=bob").json()["count"] == 0
    assert staff_client.get("/api/orders/").json()["count"] == 3
    assert [o["order_id"] for o in staff_client.get("/api/orders/?customer_id=bob").json()["results"]] == [
        shop["bob_mug"]
    ]


def test_status_filter_and_whitelisted_ordering(staff_client: APIClient, shop: dict[str, str]) -> None:
    cancelled = staff_client.get("/api/orders/?status=cancelled").json()["results"]
    assert [o["order_id"] for o in cancelled] == [shop["alice_tea"]]
    by_total = staff_client.get("/api/orders/?ordering=total_amount").json()["results"]
    assert [Decimal(o["total_amount"]) for o in by_total] == sorted(Decimal(o["total_amount"]) for o in by_total)
    by_total_desc = staff_client.get("/api/orders/?ordering=-total_amount").json()["results"]
    assert by_total_desc == list(reversed(by_total))
    newest = staff_client.get("/api/orders/?ordering=-created_at").json()["results"]
    assert [o["order_id"] for o in newest] == [shop["bob_mug"], shop["alice_tea"], shop["alice_mug"]]
    by_status = staff_client.get("/api/orders/?ordering=status").json()["results"]
    assert [o["status"] for o in by_status] == ["cancelled", "pending", "pending"]


@pytest.mark.parametrize(
    "hostile",
    [
        "customer_id",
        "-version",
        "total_amount;DROP TABLE orders",
        "__class__",
        "items__0",
        "created_at,,x",
        "?",
        "status%00",
        "' OR 1=1 --",
    ],
)
def test_ordering_outside_the_whitelist_is_400(staff_client: APIClient, hostile: str) -> None:
    response = staff_client.get("/api/orders/", {"ordering": hostile})
    assert response.status_code == 400, response.content
    assert "ordering" in response.json()


@pytest.mark.parametrize(
    ("ordering", "key"),
    [
        ("created_at", lambda o: o["created_at"]),
        ("total_amount", lambda o: Decimal(o["total_amount"])),
        ("status", lambda o: o["status"]),
    ],
)
@pytest.mark.parametrize("descending", [False, True])
def test_each_single_ordering_orders_by_that_field_then_id(
    staff_client: APIClient, shop: dict[str, str], ordering: str, key: Any, descending: bool
) -> None:
    response = staff_client.get("/api/orders/", {"ordering": f"-{ordering}" if descending else ordering})
    assert response.status_code == 200, response.content
    found = response.json()["results"]
    by_field = sorted(sorted(found, key=lambda o: o["order_id"]), key=key, reverse=descending)  # ties: id ascending
    assert [o["order_id"] for o in found] == [o["order_id"] for o in by_field]
    assert len({key(o) for o in found}) > 1  # the field really decides something here


@pytest.mark.parametrize("listed", ["created_at,status", "-total_amount,created_at", "status,status", "status,"])
def test_a_comma_list_of_orderings_is_400_like_any_unknown_value(
    staff_client: APIClient, shop: dict[str, str], listed: str
) -> None:
    response = staff_client.get("/api/orders/", {"ordering": listed})
    unknown = staff_client.get("/api/orders/", {"ordering": "customer_id"})
    assert (response.status_code, unknown.status_code) == (400, 400)
    assert response.json() == {"ordering": [unknown.json()["ordering"][0].replace("customer_id", listed)]}


@pytest.mark.parametrize(
    "params", [{"status": "lost"}, {"sort_by": "customer_id"}, {"sort_order": "up"}, {"sort_by": "total_amount; --"}]
)
def test_bad_filter_and_sort_values_are_400(staff_client: APIClient, params: dict[str, str]) -> None:
    path = "/api/orders/search/" if "sort_by" in params or "sort_order" in params else "/api/orders/"
    assert staff_client.get(path, params).status_code == 400


def test_page_size_is_capped_at_100(staff_client: APIClient, manual_projections: None) -> None:
    log = LogWriter()
    log.product("X", stock=1000)
    for _ in range(105):
        log.order("zed", [("X", 1)])
    catch_up_all()
    page = staff_client.get("/api/orders/?page_size=1000").json()
    assert (page["count"], len(page["results"])) == (105, 100)
    assert page["next"] is not None and page["previous"] is None
    second = staff_client.get(page["next"]).json()
    assert len(second["results"]) == 5
    assert not {o["order_id"] for o in second["results"]} & {o["order_id"] for o in page["results"]}
    assert len(staff_client.get("/api/orders/").json()["results"]) == 20


def test_pages_say_where_they_are_and_link_to_their_neighbours(staff_client: APIClient, shop: dict[str, str]) -> None:
    middle = staff_client.get("/api/orders/?ordering=created_at&page_size=1&page=2").json()
    assert (middle["count"], middle["page"], middle["page_size"], middle["total_pages"]) == (3, 2, 1, 3)
    assert [o["order_id"] for o in middle["results"]] == [shop["alice_tea"]]
    assert middle["next"].endswith("/api/orders/?ordering=created_at&page=3&page_size=1")
    assert middle["previous"].endswith("/api/orders/?ordering=created_at&page_size=1")  # page 1 has no page=
    last = staff_client.get("/api/orders/?ordering=created_at&page_size=1&page=last").json()
    assert (last["page"], last["next"], [o["order_id"] for o in last["results"]]) == (3, None, [shop["bob_mug"]])
    assert staff_client.get("/api/orders/?page_size=abc").json()["page_size"] == 20
    beyond = staff_client.get("/api/orders/?page=4&page_size=1")
    assert (beyond.status_code, beyond.json()) == (404, {"detail": "Invalid page.", "code": "not_found"})
    assert staff_client.get("/api/orders/?page=zero").status_code == 404


def test_customer_orders_newest_first_with_status_filter(
    customer_client: APIClient, staff_client: APIClient, shop: dict[str, str]
) -> None:
    mine = customer_client.get("/api/customers/alice/orders/").json()["results"]
    assert [o["order_id"] for o in mine] == [shop["alice_tea"], shop["alice_mug"]]
    pending = customer_client.get("/api/customers/alice/orders/?status=pending").json()["results"]
    assert [o["order_id"] for o in pending] == [shop["alice_mug"]]
    assert customer_client.get("/api/customers/bob/orders/").status_code == 404
    assert staff_client.get("/api/customers/bob/orders/").json()["count"] == 1


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("mug", {"alice_mug", "bob_mug"}),  # line name, case-insensitive
        ("MUG-1", {"alice_mug", "bob_mug"}),  # line sku
        ("green TEA", {"alice_mug", "alice_tea"}),
        ("ALI", {"alice_mug", "alice_tea"}),  # customer substring
        ("nothing-like-it", set()),
        ("%", set()),  # LIKE wildcards are literal
        ("_", set()),
    ],
)
def test_search_by_customer_sku_and_name(
    staff_client: APIClient, shop: dict[str, str], q: str, expected: set[str]
) -> None:
    found = staff_client.get("/api/orders/search/", {"q": q}).json()["results"]
    assert {o["order_id"] for o in found} == {shop[k] for k in expected}


def test_search_by_id_prefix(staff_client: APIClient, shop: dict[str, str]) -> None:
    prefix = shop["bob_mug"][:8].upper()
    found = staff_client.get("/api/orders/search/", {"q": prefix}).json()["results"]
    assert shop["bob_mug"] in {o["order_id"] for o in found}


def test_search_is_isolated_per_customer_and_sortable(
    customer_client: APIClient, staff_client: APIClient, shop: dict[str, str]
) -> None:
    found = customer_client.get("/api/orders/search/", {"q": "mug"}).json()["results"]
    assert [o["order_id"] for o in found] == [shop["alice_mug"]]
    assert customer_client.get("/api/orders/search/", {"q": shop["bob_mug"][:8]}).json()["count"] == 0
    asc = staff_client.get("/api/orders/search/?q=&sort_by=total_amount&sort_order=asc").json()["results"]
    assert [Decimal(o["total_amount"]) for o in asc] == sorted(Decimal(o["total_amount"]) for o in asc)
    default = staff_client.get("/api/orders/search/").json()["results"]
    assert [o["order_id"] for o in default] == [shop["bob_mug"], shop["alice_tea"], shop["alice_mug"]]


def test_search_takes_the_lists_filters_alone_and_combined_with_q_and_sort(
    customer_client: APIClient, staff_client: APIClient, shop: dict[str, str]
) -> None:
    def ids(client: APIClient, **params: str) -> list[str]:
        response = client.get("/api/orders/search/", params)
        assert response.status_code == 200, response.content
        return [o["order_id"] for o in response.json()["results"]]

    assert set(ids(staff_client, status="pending")) == {shop["alice_mug"], shop["bob_mug"]}
    assert ids(staff_client, status="cancelled") == [shop["alice_tea"]]
    assert set(ids(staff_client, customer_id="alice")) == {shop["alice_mug"], shop["alice_tea"]}
    assert ids(staff_client, q="mug", status="pending", customer_id="bob") == [shop["bob_mug"]]
    assert ids(customer_client, customer_id="bob") == []  # a customer's search stays their own
    created = staff_client.get(f"/api/orders/{shop['alice_tea']}/").json()["created_at"]
    day = created[:10]
    assert len(ids(staff_client, created_from=day, created_to=day)) == 3  # a date is its whole UTC day
    assert ids(staff_client, created_to="2000-01-01") == []
    assert ids(staff_client, created_from="2999-01-01T00:00:00+00:00") == []
    assert ids(staff_client, created_from=created, created_to=created) == [shop["alice_tea"]]  # inclusive
    by_total = ids(staff_client, q="mug", status="pending", sort_by="total_amount", sort_order="asc")
    assert by_total == [shop["bob_mug"], shop["alice_mug"]]


@pytest.mark.parametrize(
    "params",
    [{"status": "lost"}, {"created_from": "yesterday"}, {"created_to": "2026-02-30"}, {"customer_id": "x" * 151}],
)
def test_bad_search_filters_are_400(staff_client: APIClient, params: dict[str, str]) -> None:
    response = staff_client.get("/api/orders/search/", params)
    assert response.status_code == 400 and list(response.json()) == list(params)


def test_history_reads_the_stream_from_the_log(customer_client: APIClient, shop: dict[str, str]) -> None:
    history = customer_client.get(f"/api/orders/{shop['alice_tea']}/history/").json()
    assert [e["event_type"] for e in history] == ["OrderCreated", "OrderItemAdded", "OrderCancelled"]
    assert [e["version"] for e in history] == [1, 2, 3]
    assert set(history[0]) == {"position", "version", "event_type", "recorded_at", "data", "metadata", "hash"}
    assert history[2]["data"]["reason"] == "too late"
    assert history[0]["position"] < history[1]["position"] < history[2]["position"]


def test_json_answers_are_the_bytes_drf_serializers_render(staff_client: APIClient, shop: dict[str, str]) -> None:
    """The read API renders its rows through planned serializers (orders_read/representation.py): the same bytes."""
    from rest_framework.renderers import JSONRenderer

    from orders_read.models import OrderSummary, ProductView
    from orders_read.serializers import OrderSerializer, ProductSerializer

    staff_client.post(f"/api/orders/{shop['bob_mug']}/ship/", {}, format="json")
    render = JSONRenderer().render
    orders = OrderSummary.objects.order_by("-created_at", "order_id")
    listed = staff_client.get("/api/orders/")
    assert render(listed.json()["results"]) == render(OrderSerializer(orders, many=True).data)
    for order in orders:
        detail = staff_client.get(f"/api/orders/{order.order_id}/")
        assert detail.content == render(OrderSerializer(order).data)
    products = staff_client.get("/api/products/?search=mug")
    assert render(products.json()["results"]) == render(
        ProductSerializer(ProductView.objects.filter(sku="MUG-1"), many=True).data
    )


def test_the_browsable_api_still_renders_reads(staff_client: APIClient, shop: dict[str, str]) -> None:
    for path in (f"/api/orders/{shop['alice_mug']}/", "/api/orders/", "/api/products/?search=mug"):
        response = staff_client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html")
        assert "Blue Mug" in response.content.decode()

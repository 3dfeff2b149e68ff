"""The read side's admin as support uses it: links between a view and its stream, filters, idempotency records."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from eventstore.models import Event
from eventstore.projections.base import all_projections
from eventstore.projections.runner import catch_up
from orders_write.models import IdempotencyRecord
from tests.integration.ops.counting import wait_until_readable
from tests.integration.orders_read.support import clean_views, empty_views  # noqa: F401  (fixture)
from tests.support.api import client_for

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.usefixtures("clean_views")]

ORDERS = "/admin/orders_read/ordersummary/"
PRODUCTS = "/admin/orders_read/productview/"
EVENTS = "/admin/eventstore/event/"
IDEMPOTENCY = "/admin/orders_write/idempotencyrecord/"


@pytest.fixture
def root():
    return get_user_model().objects.create_superuser("root", "root@example.com", "root-pass-123")


@pytest.fixture
def admin_client(root) -> Client:
    client = Client()
    client.force_login(root)
    return client


def _caught_up() -> None:
    wait_until_readable()
    for projection in all_projections():
        catch_up(projection.name)


def _product(api, sku: str, stock: int) -> None:
    body = {"sku": sku, "name": sku.title(), "price": "4.00", "initial_stock": stock}
    assert api.post("/api/products/", body, format="json").status_code == 201


def _order(api, sku: str, key: str | None = None) -> str:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {"items": [{"product_id": sku, "quantity": 1}], "shipping_address": {"city": "Lyon"}}
    created = api.post("/api/orders/", body, format="json", **headers)
    assert created.status_code == 201, created.content
    return created.json()["id"]


def _hrefs(html: str, css_class: str) -> list[str]:
    return re.findall(rf'<a class="{css_class}" href="([^"]+)"', html)


def test_an_order_links_to_its_stream_and_its_events_link_back(root, admin_client) -> None:
    api = client_for(root)
    _product(api, "mug", 5)
    order_id = _order(api, "mug")
    _caught_up()
    stream = f"Order-{order_id}"
    stream_url = f"{EVENTS}?stream_id={stream}"
    assert stream_url in _hrefs(admin_client.get(ORDERS).content.decode(), "stream-link")
    detail = admin_client.get(f"{ORDERS}{order_id}/change/").content.decode()
    assert stream_url in _hrefs(detail, "stream-link")
    listing = admin_client.get(stream_url).content.decode()
    positions = re.findall(r'<th class="field-position"><a href="[^"]+">(\d+)</a>', listing)
    assert positions == [str(e.position) for e in Event.objects.filter(stream_id=stream).order_by("version")]
    event = Event.objects.get(stream_id=stream, version=1)
    back = _hrefs(admin_client.get(f"{EVENTS}{event.position}/change/").content.decode(), "view-link")
    assert back == [f"{ORDERS}{order_id}/change/"]
    assert admin_client.get(back[0]).status_code == 200


def test_a_product_links_to_its_stream_and_back(root, admin_client) -> None:
    _product(client_for(root), "lamp", 2)
    _caught_up()
    assert f"{EVENTS}?stream_id=Product-lamp" in _hrefs(admin_client.get(PRODUCTS).content.decode(), "stream-link")
    event = Event.objects.get(stream_id="Product-lamp", version=1)
    back = _hrefs(admin_client.get(f"{EVENTS}{event.position}/change/").content.decode(), "view-link")
    assert back == [f"{PRODUCTS}lamp/change/"]


def test_an_event_whose_view_row_is_missing_links_nowhere(root, admin_client) -> None:
    _product(client_for(root), "lamp", 2)
    _caught_up()
    empty_views()  # the stream stays in the log, its row is gone from the view
    event = Event.objects.get(stream_id="Product-lamp", version=1)
    assert _hrefs(admin_client.get(f"{EVENTS}{event.position}/change/").content.decode(), "view-link") == []


def test_products_filter_by_stock(root, admin_client) -> None:
    api = client_for(root)
    _product(api, "full", 3)
    _product(api, "empty", 0)
    _caught_up()

    def skus(query: str) -> set[str]:
        html = admin_client.get(f"{PRODUCTS}?{query}").content.decode()
        return set(re.findall(r'<th class="field-sku"><a href="[^"]+">([^<]+)</a>', html))

    assert skus("in_stock=yes") == {"full"}
    assert skus("in_stock=no") == {"empty"}
    assert skus("") == {"full", "empty"}


def test_daily_sales_has_a_date_hierarchy(root, admin_client) -> None:
    api = client_for(root)
    _product(api, "mug", 5)
    _order(api, "mug")
    _caught_up()
    today = timezone.now().date()
    sales = "/admin/orders_read/dailysales/"
    assert f'href="?date__year={today.year}"' in admin_client.get(sales).content.decode()
    month = admin_client.get(f"{sales}?date__year={today.year}&date__month={today.month}").content.decode()
    assert f'href="?date__day={today.day}&amp;date__month={today.month}&amp;date__year={today.year}"' in month
    day = f"?date__day={today.day}&date__month={today.month}&date__year={today.year}"
    assert f"{sales}{today.isoformat()}/change/" in admin_client.get(f"{sales}{day}").content.decode()
    other_year = admin_client.get(f"{sales}?date__year={today.year - 1}").content.decode()
    assert f"{sales}{today.isoformat()}/change/" not in other_year


def test_idempotency_records_are_listed_read_only(root, admin_client) -> None:
    api = client_for(root)
    _product(api, "mug", 5)
    order_id = _order(api, "mug", key="retry-me-42")
    record = IdempotencyRecord.objects.get(key="retry-me-42")
    listing = admin_client.get(IDEMPOTENCY)
    assert listing.status_code == 200 and "retry-me-42" in listing.content.decode()
    assert "action-checkbox" not in listing.content.decode()
    detail = admin_client.get(f"{IDEMPOTENCY}{record.pk}/change/")
    assert detail.status_code == 200 and order_id in detail.content.decode()
    assert admin_client.get(f"{IDEMPOTENCY}add/").status_code == 403
    assert admin_client.post(f"{IDEMPOTENCY}{record.pk}/change/", {"result": "{}"}).status_code == 403
    assert admin_client.post(f"{IDEMPOTENCY}{record.pk}/delete/", {"post": "yes"}).status_code == 403
    assert IdempotencyRecord.objects.get(pk=record.pk).result == record.result
    assert "retry-me-42" in admin_client.get(f"{IDEMPOTENCY}?q=retry-me-42").content.decode()

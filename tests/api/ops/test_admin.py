"""The admin as an operator uses it (Django test client): the read-only log, the views, projections."""

import re
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client

from config.celery_app import app as celery_app
from eventstore.admin import EstimatedCountPaginator
from eventstore.log.append import NO_STREAM, StreamWrite, append, read_stream
from eventstore.models import Event, ProjectionState
from eventstore.projections.runner import catch_up
from eventstore.rebuild.orchestration import rebuild_progress
from eventstore.routers import read_db_alias
from orders_write.events import ProductRegistered
from tests.integration.ops.counting import (
    NAME,
    POISON,
    add_products,
    expected_rows,
    view_rows,
    wait_until_readable,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

EVENTS = "/admin/eventstore/event/"
PROJECTIONS = "/admin/eventstore/projectionstate/"


@pytest.fixture
def admin_client() -> Client:
    user = get_user_model().objects.create_superuser("root", "root@example.com", "root-pass-123")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


def _positions(html: str) -> list[int]:
    return [int(p) for p in re.findall(r'<th class="field-position"><a href="[^"]+">(\d+)</a>', html)]


def test_event_admin_is_read_only(admin_client) -> None:
    add_products(1)
    event = Event.objects.order_by("position").first()
    listing = admin_client.get(EVENTS).content.decode()
    assert "Product-p00000" in listing
    assert "delete_selected" not in listing and f"{EVENTS}add/" not in listing
    assert admin_client.get(f"{EVENTS}add/").status_code == 403
    assert admin_client.get(f"{EVENTS}{event.position}/delete/").status_code == 403
    detail = admin_client.get(f"{EVENTS}{event.position}/change/")
    assert detail.status_code == 200
    html = detail.content.decode()
    assert 'name="_save"' not in html and "<form" in html
    assert admin_client.post(f"{EVENTS}{event.position}/change/", {"stream_id": "x"}).status_code == 403
    assert Event.objects.get(position=event.position).stream_id == "Product-p00000"


def test_event_detail_pretty_prints_payload_and_metadata_and_links_to_its_stream(admin_client) -> None:
    append(
        StreamWrite(
            "Product-lamp",
            NO_STREAM,
            [
                ProductRegistered(product_id="lamp", name="Desk lamp", description="", price=Decimal("12.50")),
            ],
        ),
        metadata={"correlation_id": "corr-1"},
    )
    event = Event.objects.get(stream_id="Product-lamp")
    html = admin_client.get(f"{EVENTS}{event.position}/change/").content.decode()
    pretty = '<pre class="event-json">{\n  &quot;description&quot;: &quot;&quot;,\n  &quot;name&quot;: &quot;Desk lamp'
    assert pretty in html
    assert "&quot;correlation_id&quot;: &quot;corr-1&quot;" in html
    assert f'href="{EVENTS}?stream_id=Product-lamp"' in html


def test_stream_link_lists_one_stream_in_version_order(admin_client) -> None:
    add_products(3, receipts=2)
    listing = admin_client.get(EVENTS, {"stream_id": "Product-p00001"}).content.decode()
    expected = [e.position for e in read_stream("Product-p00001")]
    assert _positions(listing) == expected


def test_event_filters_and_search(admin_client) -> None:
    add_products(3, receipts=1)
    page = admin_client.get(EVENTS).content.decode()
    assert "?event_type=StockReceived" in page and "?stream_type=Product" in page
    received = _positions(admin_client.get(EVENTS, {"event_type": "StockReceived"}).content.decode())
    stock = Event.objects.filter(event_type="StockReceived").values_list("position", flat=True)
    assert sorted(received) == sorted(stock)
    assert len(received) == 3
    by_prefix = _positions(admin_client.get(EVENTS, {"q": "Product-p0000"}).content.decode())
    assert len(by_prefix) == 6
    assert len(_positions(admin_client.get(EVENTS, {"q": "Product-p00002"}).content.decode())) == 2
    assert _positions(admin_client.get(EVENTS, {"q": "roduct-p"}).content.decode()) == []  # no infix scans
    one = Event.objects.filter(stream_id="Product-p00001").first()
    assert _positions(admin_client.get(EVENTS, {"q": str(one.event_id)}).content.decode()) == [one.position]


def test_unfiltered_count_is_estimated_from_statistics_on_postgres(admin_client) -> None:
    add_products(20)
    queryset = Event.objects.all()
    if connections["default"].vendor == "postgresql":
        with connections["default"].cursor() as cursor:
            cursor.execute("ANALYZE eventstore_event")
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'eventstore_event'")
            estimate = cursor.fetchone()[0]
        assert EstimatedCountPaginator(queryset, 10).count == estimate
    else:
        assert EstimatedCountPaginator(queryset, 10).count == 40
    assert EstimatedCountPaginator(queryset.filter(event_type="StockReceived"), 10).count == 20
    assert admin_client.get(EVENTS).status_code == 200


def test_projection_admin_shows_status_lag_and_error_and_resumes(admin_client, counting_projection) -> None:
    add_products(2)
    append(
        StreamWrite(
            "Product-bad",
            NO_STREAM,
            [
                ProductRegistered(product_id="bad", name=POISON, description="", price=Decimal("1.00")),
            ],
        )
    )
    wait_until_readable()
    catch_up(NAME)
    html = admin_client.get(PROJECTIONS).content.decode()
    state = ProjectionState.objects.using(read_db_alias()).get(name=NAME)
    assert state.status == "failed", state.last_error
    assert NAME in html and "failed" in html
    assert "ValueError: poison product" in html, state.last_error[-500:]
    assert "1/1" in html
    detail = admin_client.get(f"{PROJECTIONS}{NAME}/change/").content.decode()
    assert f'href="{EVENTS}{state.failed_position}/change/"' in detail
    assert admin_client.get(f"{EVENTS}{state.failed_position}/change/").status_code == 200
    assert admin_client.get(f"{PROJECTIONS}add/").status_code == 403
    response = admin_client.post(PROJECTIONS, {"action": "resume", "_selected_action": [NAME]}, follow=True)
    assert f"Resumed {NAME}" in response.content.decode()
    assert ProjectionState.objects.using(read_db_alias()).get(name=NAME).status == "active"


def test_projection_admin_starts_a_rebuild_and_shows_its_progress(
    admin_client, counting_projection, eager_tasks
) -> None:
    add_products(4)
    catch_up(NAME)
    ProjectionState.objects.using(read_db_alias()).filter(name=NAME).update(version=0)
    assert "needs rebuild" in admin_client.get(PROJECTIONS).content.decode()
    response = admin_client.post(PROJECTIONS, {"action": "start_rebuild", "_selected_action": [NAME]}, follow=True)
    html = response.content.decode()
    assert f"Rebuild started for {NAME}" in html
    assert "done: 8/8 events (100%)" in html
    assert rebuild_progress(NAME)["phase"] == "done"
    assert ProjectionState.objects.using(read_db_alias()).get(name=NAME).version == 1
    assert view_rows() == expected_rows(4)


def test_view_admins_are_read_only(admin_client) -> None:
    for url in (
        "/admin/orders_read/ordersummary/",
        "/admin/orders_read/productview/",
        "/admin/orders_read/dailysales/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert admin_client.get(f"{url}add/").status_code == 403
        assert "action-checkbox" not in response.content.decode()


@pytest.mark.worker
def test_a_rebuild_started_in_the_admin_runs_on_a_celery_worker_and_reports_progress(
    admin_client,
    celery_worker_process,
) -> None:
    """The real thing: the action queues a task, a `celery worker` process rebuilds, the list shows it done."""
    from django.core.cache import cache

    from eventstore.rebuild.orchestration import progress_key

    cache.delete(progress_key("catalogue"))
    add_products(3)  # events the catalogue handles (its own table: the worker knows only the real projections)
    catch_up("catalogue")
    response = admin_client.post(
        PROJECTIONS, {"action": "start_rebuild", "_selected_action": ["catalogue"]}, follow=True
    )
    assert "Rebuild started for catalogue" in response.content.decode()
    deadline = time.monotonic() + 60
    while (rebuild_progress("catalogue") or {}).get("phase") != "done" and time.monotonic() < deadline:
        time.sleep(0.2)
    progress = rebuild_progress("catalogue")
    assert progress["phase"] == "done" and progress["events_done"] == progress["events_total"] == 6
    assert "done: 6/6 events (100%)" in admin_client.get(PROJECTIONS).content.decode()

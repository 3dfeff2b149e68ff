"""The operations page (/admin/operations/): who may see it, and that its charts show the data's numbers."""

import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from config.celery_app import app as celery_app
from eventstore.log.read import head as read_head
from eventstore.models import Event, LagSample, Verification
from eventstore.projections.base import all_projections
from eventstore.projections.runner import catch_up, passed
from eventstore.rebuild.orchestration import progress_key
from eventstore.rebuild.progress import Reporter
from eventstore.tamper.runs import PROGRESS_KEY
from orders_read.models import DailySales
from tests.integration.ops.counting import wait_until_readable
from tests.integration.orders_read.support import clean_views  # noqa: F401  (fixture)
from tests.support.api import client_for

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.usefixtures("clean_views")]

PAGE = "/admin/operations/"
RUN = "/admin/eventstore/verification/run/"


@pytest.fixture(autouse=True)
def no_progress_left() -> Iterator[None]:
    """Progress entries live in the shared cache (Redis on CI): none may leak between tests."""
    keys = [PROGRESS_KEY, *(progress_key(p.name) for p in all_projections())]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _user(username: str, *perms: str, staff: bool = True, superuser: bool = False):
    model = get_user_model()
    if superuser:
        return model.objects.create_superuser(username, f"{username}@example.com", "pass-9f2k-unused")
    user = model.objects.create_user(username, password="pass-9f2k-unused", is_staff=staff)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return model.objects.get(pk=user.pk)


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _shop(owner) -> str:
    """A product and an order of 2 + 1 mugs at 9.50 through the API, with every projection caught up."""
    api = client_for(owner)
    product = {"sku": "mug", "name": "Mug", "price": "9.50", "initial_stock": 10}
    assert api.post("/api/products/", product, format="json").status_code == 201
    order = {"items": [{"product_id": "mug", "quantity": 2}], "shipping_address": {"city": "Lyon"}}
    created = api.post("/api/orders/", order, format="json")
    assert created.status_code == 201, created.content
    order_id = created.json()["id"]
    added = api.post(f"/api/orders/{order_id}/items/", {"product_id": "mug", "quantity": 1}, format="json")
    assert added.status_code in (200, 201), added.content
    wait_until_readable()
    head = read_head()
    deadline = time.monotonic() + 30
    # A Celery worker (PostgreSQL runs) may hold a projection's checkpoint row; then it applies the events.
    while not passed(head, [projection.name for projection in all_projections()]):
        assert time.monotonic() < deadline, "the projections did not catch up"
        for projection in all_projections():
            catch_up(projection.name)
        time.sleep(0.05)
    return order_id


def _svg(html: str, chart_id: str) -> str:
    match = re.search(rf'<svg[^>]*id="{chart_id}".*?</svg>', html, re.S)
    assert match, f"no chart {chart_id}"
    return match.group(0)


def _marks(svg: str, tag: str) -> list[tuple[str, str]]:
    return re.findall(rf'<{tag} class="[a-z]+" data-label="([^"]*)" data-value="([^"]*)"', svg)


def test_only_staff_see_the_page() -> None:
    anonymous = Client().get(PAGE)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    customer = _browser(_user("customer", staff=False)).get(PAGE)
    assert customer.status_code == 302 and customer["Location"].startswith("/admin/login/")
    staff = _browser(_user("watcher")).get(PAGE)
    assert staff.status_code == 200
    assert 'id="events-per-minute"' in staff.content.decode()


def test_the_verify_button_needs_its_permission_and_a_forged_post_is_refused() -> None:
    watcher = _browser(_user("watcher"))
    assert 'id="verify-now"' not in watcher.get(PAGE).content.decode()
    assert watcher.post(RUN, {"next": PAGE}).status_code == 403
    assert not Verification.objects.exists() and cache.get(PROGRESS_KEY) is None
    auditor = _browser(_user("auditor", "eventstore.run_verification"))
    assert 'id="verify-now"' in auditor.get(PAGE).content.decode()
    assert auditor.get(RUN).status_code == 405


def test_events_per_minute_chart_matches_the_log() -> None:
    root = _user("root", superuser=True)
    _shop(root)
    html = _browser(root).get(PAGE).content.decode()
    bars = _marks(_svg(html, "events-per-minute"), "rect")
    assert len(bars) == 60
    expected = Counter(f"{e.recorded_at.astimezone(UTC):%H:%M}" for e in Event.objects.all())
    shown = {label: int(value) for label, value in bars if value != "0"}
    assert shown == dict(expected) and sum(expected.values()) == Event.objects.count() >= 5
    assert f'data-value="{Event.objects.count()}"' in html  # the hour's total under the chart


def test_events_older_than_an_hour_are_left_out(monkeypatch) -> None:
    root = _user("root", superuser=True)
    _shop(root)
    later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    html = _browser(root).get(PAGE).content.decode()
    assert all(value == "0" for _, value in _marks(_svg(html, "events-per-minute"), "rect"))


def test_daily_sales_chart_shows_thirty_days_with_todays_revenue() -> None:
    root = _user("root", superuser=True)
    _shop(root)
    today = timezone.now().date()
    assert DailySales.objects.get(date=today).revenue == Decimal("28.50")
    html = _browser(root).get(PAGE).content.decode()
    bars = _marks(_svg(html, "daily-sales"), "rect")
    assert len(bars) == 30 and bars[-1] == (today.isoformat(), "28.5")
    assert bars[0][0] == (today - timedelta(days=29)).isoformat()
    assert all(value == "0" for _, value in bars[:-1])
    assert "revenue 28.50, 1 orders, 3 units, 0 cancelled" in html


def test_lag_chart_draws_each_projections_samples_of_the_last_hour() -> None:
    root = _user("root", superuser=True)
    now = timezone.now()
    LagSample.objects.bulk_create(
        [
            LagSample(taken_at=now - timedelta(minutes=90), projection="order_summary", lag_events=999, lag_seconds=1),
            LagSample(taken_at=now - timedelta(minutes=30), projection="order_summary", lag_events=120, lag_seconds=3),
            LagSample(taken_at=now - timedelta(minutes=10), projection="order_summary", lag_events=7, lag_seconds=1),
        ]
    )
    html = _browser(root).get(PAGE).content.decode()
    svg = _svg(html, "projection-lag")
    series = dict(re.findall(r'<g class="series" data-series="([^"]+)">(.*?)</g>', svg, re.S))
    assert set(series) == {p.name for p in all_projections()}
    values = [value for _, value in _marks(series["order_summary"], "circle")]
    assert values[:2] == ["120", "7"]  # the 90-minute-old sample is outside the hour
    assert 'data-value="999"' not in svg
    # the page sampled the lag now (no beat in this test): every projection is caught up
    assert values[2:] == ["0"] and 'data-max="120"' in svg


def test_a_running_rebuild_shows_its_progress_and_speeds_up_the_refresh() -> None:
    root = _user("root", superuser=True)
    browser = _browser(root)
    assert 'content="15"' in browser.get(PAGE).content.decode()
    reporter = Reporter("order_summary", 200, None)
    reporter.done = 50
    reporter.phase("running")
    html = browser.get(PAGE).content.decode()
    assert 'data-projection="order_summary" data-phase="running" data-done="50" data-total="200"' in html
    assert '<progress class="ops-progress" max="100" value="25">' in html
    assert 'http-equiv="refresh" content="2"' in html


def test_a_verification_started_from_the_page_is_recorded_and_shown(eager_tasks) -> None:
    root = _user("root", superuser=True)
    _shop(root)
    browser = _browser(root)
    assert "The log has not been verified yet." in browser.get(PAGE).content.decode()
    response = browser.post(RUN, {"next": PAGE}, follow=True)
    assert response.redirect_chain[-1][0] == PAGE
    verification = Verification.objects.get()
    assert verification.ok and verification.events_checked == Event.objects.count()
    assert verification.started_by == "root"
    html = response.content.decode()
    assert f'data-ok="1" data-events="{Event.objects.count()}"' in html
    assert 'data-phase="done"' in html


def test_the_run_view_does_not_redirect_off_site(eager_tasks) -> None:
    root = _browser(_user("root", superuser=True))
    response = root.post(RUN, {"next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/admin/eventstore/verification/"


def test_the_admin_index_links_to_the_page() -> None:
    html = _browser(_user("watcher")).get("/admin/").content.decode()
    assert f'<a href="{PAGE}" class="section">Operations</a>' in html

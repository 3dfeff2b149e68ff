"""The operations page in a real browser: the charts are drawn and show the data's numbers, the page refreshes itself.

Headless Chromium renders the server's SVG; the test reads each bar's and point's
`data-value` from the rendered document (what the tooltip says too) and compares it
with the log and the views, starts a verification with the button, and watches a
rebuild's progress bar move without reloading the page itself.
"""

from collections import Counter
from datetime import UTC

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from config.celery_app import app as celery_app
from eventstore.models import Event, Verification
from eventstore.projections.base import all_projections
from eventstore.projections.runner import catch_up
from eventstore.rebuild.orchestration import progress_key
from eventstore.rebuild.progress import Reporter
from eventstore.tamper.runs import PROGRESS_KEY
from orders_read.models import DailySales
from tests.e2e.browser import BrowserTestCase
from tests.integration.ops.counting import wait_until_readable
from tests.integration.orders_read.support import empty_views
from tests.support.api import client_for

PAGE = "/admin/operations/"


@pytest.mark.browser
@pytest.mark.slow
class OperationsPageInTheBrowserTests(BrowserTestCase):
    def setUp(self) -> None:
        self.eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True  # the verification button runs in the live server, visibly
        self.addCleanup(setattr, celery_app.conf, "task_always_eager", self.eager)
        keys = [PROGRESS_KEY, *(progress_key(p.name) for p in all_projections())]
        cache.delete_many(keys)
        self.addCleanup(cache.delete_many, keys)
        empty_views()  # unmanaged tables: the runner's flush leaves their rows
        self.addCleanup(empty_views)
        staff = get_user_model().objects.create_superuser("operator", "ops@example.com", "operator-pass-123")
        api = client_for(staff)
        product = {"sku": "mug", "name": "Mug", "price": "9.50", "initial_stock": 10}
        assert api.post("/api/products/", product, format="json").status_code == 201
        for quantity in (2, 1):
            order = {"items": [{"product_id": "mug", "quantity": quantity}], "shipping_address": {"city": "Lyon"}}
            assert api.post("/api/orders/", order, format="json").status_code == 201
        wait_until_readable()
        for projection in all_projections():
            catch_up(projection.name)

    def values(self, selector: str) -> list[tuple[str, str]]:
        from selenium.webdriver.common.by import By

        marks = self.browser.find_elements(By.CSS_SELECTOR, selector)
        return [(m.get_attribute("data-label"), m.get_attribute("data-value")) for m in marks]

    def test_the_charts_show_the_logs_and_the_views_numbers(self) -> None:
        from selenium.webdriver.common.by import By

        browser = self.browser
        self.log_in("operator", "operator-pass-123")
        self.open(PAGE)
        self.wait_for(lambda b: b.find_elements(By.ID, "events-per-minute"))
        self.shot("10-operations")

        chart = browser.find_element(By.ID, "events-per-minute")
        assert chart.size["height"] > 50 and chart.size["width"] > 300  # drawn, not just present in the markup
        bars = self.values("#events-per-minute rect.bar")
        assert len(bars) == 60
        expected = Counter(f"{e.recorded_at.astimezone(UTC):%H:%M}" for e in Event.objects.all())
        assert {label: int(value) for label, value in bars if value != "0"} == dict(expected)
        assert sum(int(value) for _, value in bars) == Event.objects.count()

        today = timezone.now().date()
        revenue = DailySales.objects.get(date=today).revenue
        sales = self.values("#daily-sales rect.bar")
        assert len(sales) == 30 and sales[-1] == (today.isoformat(), f"{revenue:f}".rstrip("0").rstrip("."))
        assert revenue == 28.5 and all(value == "0" for _, value in sales[:-1])
        title = browser.find_element(By.CSS_SELECTOR, "#daily-sales rect.bar:last-of-type title")
        assert "2 orders, 3 units" in title.get_attribute("textContent")

        series = browser.find_elements(By.CSS_SELECTOR, "#projection-lag g.series")
        assert {g.get_attribute("data-series") for g in series} == {p.name for p in all_projections()}
        for group in series:  # the page sampled every projection's lag: all caught up
            points = group.find_elements(By.CSS_SELECTOR, "circle.point")
            assert points and points[-1].get_attribute("data-value") == "0"

    def test_the_verify_button_runs_a_verification_and_the_page_shows_it(self) -> None:
        from selenium.webdriver.common.by import By

        self.log_in("operator", "operator-pass-123")
        self.open(PAGE)
        assert "not been verified yet" in self.browser.find_element(By.ID, "last-verification").text
        self.browser.find_element(By.ID, "verify-now").click()
        self.wait_for(lambda b: b.find_elements(By.CSS_SELECTOR, "#last-verification[data-ok]"), timeout=60)
        last = self.browser.find_element(By.ID, "last-verification")
        events = Event.objects.count()
        assert last.get_attribute("data-ok") == "1" and last.get_attribute("data-events") == str(events)
        assert "OK" in last.text and Verification.objects.get().ok
        progress = self.browser.find_element(By.ID, "verification-progress")
        assert progress.get_attribute("data-phase") == "done" and progress.get_attribute("data-done") == str(events)
        self.shot("11-operations-verified")

    def test_a_rebuilds_progress_bar_moves_while_the_page_refreshes_itself(self) -> None:
        from selenium.webdriver.common.by import By

        self.log_in("operator", "operator-pass-123")
        reporter = Reporter("order_summary", 200, None)
        reporter.done = 50
        reporter.phase("running")
        self.open(PAGE)
        bar = self.browser.find_element(By.CSS_SELECTOR, '.rebuild[data-projection="order_summary"] progress')
        assert bar.get_attribute("value") == "25"
        self.shot("12-operations-rebuilding")
        reporter.done = 150
        reporter.phase("running")

        def shows(percent: str):
            def check(browser) -> bool:
                found = browser.find_elements(By.CSS_SELECTOR, '.rebuild[data-projection="order_summary"] progress')
                return bool(found) and found[0].get_attribute("value") == percent

            return check

        self.wait_for(shows("75"), timeout=15)  # no get() from the test: the page reloaded itself
        reporter.done = 200
        reporter.finish("done")
        self.wait_for(shows("100"), timeout=15)
        self.shot("13-operations-rebuilt")

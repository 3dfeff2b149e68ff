"""The admin in a real browser, as an operator uses it: headless Chromium driven by Selenium.

Log in, find an order's events, open one, follow the link to its whole stream, look at
the projections and start a rebuild. Every page is saved as a screenshot under
artifacts/screenshots/ (git-ignored; CI keeps it as a test artefact).
"""

import pytest
from django.contrib.auth import get_user_model

from config.celery_app import app as celery_app
from eventstore.log.append import read_stream
from eventstore.models import Event, ProjectionState
from eventstore.projections.base import all_projections
from eventstore.projections.runner import catch_up
from eventstore.routers import read_db_alias
from tests.e2e.browser import BrowserTestCase
from tests.integration.ops.counting import wait_until_readable
from tests.support.api import client_for


@pytest.mark.browser
@pytest.mark.slow
class AdminInTheBrowserTests(BrowserTestCase):
    def setUp(self) -> None:
        self.eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True  # the admin's rebuild runs in the live server, visibly
        self.addCleanup(setattr, celery_app.conf, "task_always_eager", self.eager)
        staff = get_user_model().objects.create_superuser("operator", "ops@example.com", "operator-pass-123")
        api = client_for(staff)
        assert (
            api.post(
                "/api/products/", {"sku": "mug", "name": "Mug", "price": "9.50", "initial_stock": 10}, format="json"
            ).status_code
            == 201
        )
        created = api.post(
            "/api/orders/",
            {"items": [{"product_id": "mug", "quantity": 2}], "shipping_address": {"city": "Lyon"}},
            format="json",
        )
        assert created.status_code == 201, created.content
        self.order_id = created.json()["id"]
        assert api.post(
            f"/api/orders/{self.order_id}/items/", {"product_id": "mug", "quantity": 1}, format="json"
        ).status_code in (200, 201)
        wait_until_readable()
        for projection in all_projections():
            catch_up(projection.name)

    def test_operator_follows_an_order_stream_and_starts_a_rebuild(self) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        browser, stream = self.browser, f"Order-{self.order_id}"

        self.open("/admin/login/?next=/admin/")
        self.shot("01-login")
        browser.find_element(By.ID, "id_username").send_keys("operator")
        browser.find_element(By.ID, "id_password").send_keys("operator-pass-123")
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        self.wait_for(lambda b: "Site administration" in b.title)
        self.shot("02-admin-index")

        self.open("/admin/eventstore/event/")
        search = browser.find_element(By.ID, "searchbar")
        search.send_keys(stream)
        search.submit()
        self.wait_for(lambda b: "q=" in b.current_url)
        rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        order_events = read_stream(stream)
        assert len(rows) == len(order_events) >= 2
        self.shot("03-order-events")

        last = order_events[-1]
        browser.find_element(By.LINK_TEXT, str(last.position)).click()
        self.wait_for(lambda b: f"/{last.position}/change/" in b.current_url)
        body = browser.find_element(By.TAG_NAME, "body").text
        assert last.event_type in body and '"order_id": "' + self.order_id + '"' in body
        self.shot("04-event-detail")

        browser.find_element(By.CSS_SELECTOR, "a.stream-link").click()
        self.wait_for(lambda b: "stream_id=" in b.current_url)
        positions = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "#result_list th.field-position a")]
        assert positions == [str(e.position) for e in order_events]  # the whole stream, in version order
        assert f"stream_id={stream}" in browser.current_url
        self.shot("05-stream")

        self.open("/admin/eventstore/projectionstate/")
        table = browser.find_element(By.ID, "result_list").text
        assert "order_summary" in table and "Active" in table
        self.shot("06-projections")

        row = browser.find_element(By.XPATH, "//tr[.//th[contains(., 'order_summary')]]")
        row.find_element(By.CSS_SELECTOR, "input.action-select").click()
        Select(browser.find_element(By.NAME, "action")).select_by_value("start_rebuild")
        browser.find_element(By.NAME, "index").click()
        self.wait_for(lambda b: b.find_elements(By.CSS_SELECTOR, "ul.messagelist"), timeout=60)
        messages = browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
        assert "Rebuild started for order_summary" in messages
        row_text = browser.find_element(By.XPATH, "//tr[.//th[contains(., 'order_summary')]]").text
        assert "done:" in row_text and "(100%)" in row_text, row_text
        self.shot("07-rebuild-started")
        state = ProjectionState.objects.using(read_db_alias()).get(name="order_summary")
        assert state.status == "active" and state.events_applied >= 1
        assert Event.objects.filter(stream_id=stream).count() == len(order_events)

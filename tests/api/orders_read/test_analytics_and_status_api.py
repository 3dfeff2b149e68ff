"""GET /api/analytics/sales/ and GET /api/projections/ (staff)."""

from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from tests.support.api import place, register

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("eager_tasks"),
]


@pytest.fixture
def sales(staff_client: APIClient, customer_client: APIClient) -> None:
    register(staff_client, "A", price="2.50", stock=20)
    first = place(customer_client, ("A", 2)).json()
    place(customer_client, ("A", 4))
    staff_client.post(f"/api/orders/{first['id']}/cancel/", {"reason": "x"}, format="json")


def test_daily_sales_figures_and_date_range(staff_client: APIClient, sales: None) -> None:
    today = datetime.now(UTC).date().isoformat()  # days are UTC days (the events' recorded_at)
    days = staff_client.get("/api/analytics/sales/").json()["results"]
    assert days == [{"date": today, "orders": 2, "units": 6, "revenue": "15.00", "cancelled": 1}]
    assert staff_client.get(f"/api/analytics/sales/?date_from={today}&date_to={today}").json()["count"] == 1
    assert staff_client.get("/api/analytics/sales/?date_to=2000-01-01").json()["count"] == 0


@pytest.mark.parametrize("bad", [{"date_from": "yesterday"}, {"date_to": "2026-02-30"}, {"date_from": "1' OR '1"}])
def test_bad_dates_are_400(staff_client: APIClient, bad: dict[str, str]) -> None:
    assert staff_client.get("/api/analytics/sales/", bad).status_code == 400


def test_analytics_needs_login(anon_client: APIClient) -> None:
    assert anon_client.get("/api/analytics/sales/").status_code == 401


def test_analytics_is_staff_only(customer_client: APIClient) -> None:
    response = customer_client.get("/api/analytics/sales/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_projection_status_for_staff_only(
    staff_client: APIClient, customer_client: APIClient, anon_client: APIClient, sales: None
) -> None:
    rows = staff_client.get("/api/projections/").json()["results"]
    assert [r["name"] for r in rows] == ["catalogue", "daily_sales", "order_summary"]
    for row in rows:
        assert set(row) == {"name", "status", "checkpoint", "lag_events", "lag_seconds", "last_error"}
        assert row["status"] == "active" and row["lag_events"] == 0 and row["lag_seconds"] == 0
        txid, position = row["checkpoint"].split("-")
        assert int(position) > 0 and int(txid) >= 0
    assert customer_client.get("/api/projections/").status_code == 403
    assert anon_client.get("/api/projections/").status_code == 401


def test_projection_status_and_metrics_report_the_same_lag(staff_client: APIClient, manual_projections: None) -> None:
    register(staff_client, "A", stock=5)  # events no projection has read: every one lags
    rows = {r["name"]: r for r in staff_client.get("/api/projections/").json()["results"]}
    metrics = staff_client.get("/metrics").content.decode()
    samples = {
        (sample.name, sample.labels.get("projection")): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
    }
    assert set(rows) == {"catalogue", "daily_sales", "order_summary"}
    for name, row in rows.items():
        assert row["lag_events"] > 0
        assert samples[("projection_lag_events", name)] == row["lag_events"]
        assert samples[("projection_checkpoint_position", name)] == int(row["checkpoint"].split("-")[1])
        assert row["lag_seconds"] <= samples[("projection_lag_seconds", name)] <= row["lag_seconds"] + 5

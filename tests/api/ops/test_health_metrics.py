"""/healthz, /readyz and /metrics, and the request id / correlation id in responses and log lines."""

import json
import logging
import uuid

import pytest
from django.conf import settings
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from config.logging import JsonFormatter, RequestIdFilter, request_id_var
from eventstore.log.append import head, read_stream
from eventstore.models import ProjectionState
from eventstore.projections.base import all_projections
from eventstore.routers import read_db_alias
from tests.integration.ops.counting import wait_until_readable

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _samples(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _register(client, sku: str, **headers: str):
    body = {"sku": sku, "name": "Lamp", "price": "12.50", "initial_stock": 3}
    return client.post("/api/products/", body, format="json", **headers)


def test_healthz_answers_without_touching_anything(anon_client) -> None:
    response = anon_client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_200_when_every_dependency_answers(anon_client) -> None:
    response = anon_client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["reasons"] == []
    expected = {"database", "projections"}
    expected |= {"read_database"} if "read" in settings.DATABASES else set()
    expected |= {"broker"} if settings.CELERY_BROKER_URL.startswith("redis") else set()
    assert body["checks"] == dict.fromkeys(expected, "ok")


def test_readyz_is_503_naming_the_failed_check_and_logging_the_details(anon_client, caplog) -> None:
    ProjectionState.objects.using(read_db_alias()).create(name="broken_view", status="failed", failed_position=42)
    with caplog.at_level(logging.WARNING, logger="orders.ops"):
        response = anon_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"]["projections"] == "fail"
    assert body["reasons"] == ["projections"]
    assert "broken_view" not in response.content.decode()
    assert any("broken_view at position 42" in r.getMessage() for r in caplog.records if r.name == "orders.ops")


def test_readyz_is_503_when_the_configured_broker_does_not_answer_without_exception_text(anon_client, caplog) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="orders.ops"),
        override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0"),
    ):
        response = anon_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["broker"] == "fail" and body["checks"]["database"] == "ok"
    assert body["status"] == "unavailable" and body["reasons"] == ["broker"]
    text = response.content.decode()
    assert "Error" not in text and "127.0.0.1" not in text  # no exception class, message or address
    [logged] = [r for r in caplog.records if r.name == "orders.ops"]
    assert logged.getMessage().startswith("readiness check broker failed: ") and "Error" in logged.getMessage()


def test_metrics_label_unknown_methods_as_other(anon_client) -> None:
    before = _samples(anon_client)
    for method in ("BREW", "PROPFIND", "X-RANDOM-1", "X-RANDOM-2"):
        anon_client.generic(method, "/healthz")
    anon_client.generic("OPTIONS", "/healthz")
    after = _samples(anon_client)
    methods = {dict(labels).get("method") for name, labels in after if name == "http_requests_total"}
    assert methods <= {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER"}, methods
    key = ("http_requests_total", (("method", "OTHER"), ("route", "healthz"), ("status", "405")))
    assert after[key] - before.get(key, 0.0) == 4
    options = ("http_requests_total", (("method", "OPTIONS"), ("route", "healthz"), ("status", "405")))
    assert after[options] - before.get(options, 0.0) == 1


def test_metrics_are_open_without_a_token_and_want_the_bearer_token_when_one_is_set(anon_client) -> None:
    assert anon_client.get("/metrics").status_code == 200  # METRICS_TOKEN unset: open
    with override_settings(METRICS_TOKEN="scrape-s3cret"):
        for headers in (
            {},
            {"HTTP_AUTHORIZATION": "Bearer wrong"},
            {"HTTP_AUTHORIZATION": "Token scrape-s3cret"},
            {"HTTP_AUTHORIZATION": "Bearer scrape-s3cret-and-more"},
            {"HTTP_AUTHORIZATION": "Bearer"},
        ):
            refused = anon_client.get("/metrics", **headers)
            assert refused.status_code == 401, headers
            assert refused["WWW-Authenticate"].startswith("Bearer")
            assert b"http_requests_total" not in refused.content
        allowed = anon_client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-s3cret")
        assert allowed.status_code == 200 and b"http_requests_total" in allowed.content


def test_metrics_count_requests_by_route_pattern_and_commands_by_outcome(anon_client, staff_client) -> None:
    before = _samples(anon_client)
    sku = f"m-{uuid.uuid4().hex[:8]}"
    assert _register(staff_client, sku).status_code == 201
    assert _register(staff_client, sku).status_code == 409
    assert staff_client.post(f"/api/products/{sku}/stock/", {"quantity": 2}, format="json").status_code in (200, 201)
    assert anon_client.get("/api/no-such-thing/").status_code == 404
    wait_until_readable()
    after = _samples(anon_client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("commands_total", outcome="2xx") == 2
    assert delta("commands_total", outcome="4xx") == 1
    assert delta("http_requests_total", method="POST", route="api/products/", status="201") == 1
    assert (
        delta("http_requests_total", method="POST", route="api/products/<str:sku>/stock/", status="201")
        + delta("http_requests_total", method="POST", route="api/products/<str:sku>/stock/", status="200")
        == 1
    )
    assert delta("http_request_duration_seconds_count", method="POST", route="api/products/", status="201") == 1
    assert delta("http_request_duration_seconds_count", method="POST", route="api/products/", status="409") == 1
    assert delta("http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    assert not any(sku in name or sku in str(labels) for name, labels in after)  # no raw paths as labels
    assert after[("eventstore_events_appended_total", ())] == head().position


def test_metrics_report_every_projection_checkpoint_and_lag(anon_client) -> None:
    samples = _samples(anon_client)
    names = [p.name for p in all_projections()]
    assert names, "the read side registers its projections"
    for name in names:
        labels = (("projection", name),)
        for metric in (
            "projection_checkpoint_position",
            "projection_lag_events",
            "projection_lag_seconds",
            "projection_failed",
            "projection_needs_rebuild",
        ):
            assert (metric, labels) in samples, (metric, name)


def test_request_id_goes_in_and_out_and_tags_the_command_log_line_and_its_events(staff_client, caplog) -> None:
    sku = f"r-{uuid.uuid4().hex[:8]}"
    with caplog.at_level(logging.INFO, logger="orders.commands"):
        response = _register(staff_client, sku, HTTP_X_REQUEST_ID="req-abc-123")
    assert response.status_code == 201
    assert response["X-Request-ID"] == "req-abc-123"
    [record] = [r for r in caplog.records if r.name == "orders.commands"]
    assert record.correlation_id == "req-abc-123" and record.status == 201 and record.route == "api/products/"
    assert read_stream(f"Product-{sku}")[0].metadata["correlation_id"] == "req-abc-123"
    line = json.loads(JsonFormatter().format(record))
    assert line["correlation_id"] == "req-abc-123" and line["message"].startswith("command POST /api/products/")


def test_a_request_without_an_id_gets_a_fresh_one(anon_client) -> None:
    first, second = anon_client.get("/healthz")["X-Request-ID"], anon_client.get("/healthz")["X-Request-ID"]
    assert first and second and first != second
    assert anon_client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")["X-Request-ID"] != "bad id with spaces"


def test_json_log_lines_carry_the_request_id_of_the_running_request() -> None:
    token = request_id_var.set("rid-77")
    try:
        record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "hello %s", "args": ("you",)})
        RequestIdFilter().filter(record)  # what the console handler applies to every record
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"], line["request_id"], line["level"]) == ("hello you", "rid-77", "INFO")

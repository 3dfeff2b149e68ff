"""Prometheus metrics: request and command counters from a middleware, the log and projections from the DB.

Request metrics are labelled with the resolved route pattern (`api/orders/<uuid:order_id>/`),
never the raw path, and with the method only when it is a known one (anything else is
`OTHER`), so no client can make the number of series grow. Under gunicorn every worker
process counts its own requests; set PROMETHEUS_MULTIPROC_DIR (docker-compose does) and
the scrape sums them over processes. The log head and the projections' checkpoints and
lag are read from the databases at scrape time, so any process answers the same.
"""

import logging
import os
import time
from collections.abc import Callable, Iterator

from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from config.logging import request_id_var

logger = logging.getLogger("orders.commands")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
UNMATCHED = "<unmatched>"
OTHER_METHOD = "OTHER"
KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})

REQUESTS = Counter("http_requests", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
COMMANDS = Counter("commands", "Commands (POST/DELETE under /api/) by outcome", ["outcome"])


def is_command(request: HttpRequest) -> bool:
    """A POST or DELETE to the API, except obtaining a token (that changes no stream)."""
    return (
        request.method in ("POST", "DELETE")
        and request.path.startswith("/api/")
        and not request.path.startswith("/api/auth/")
    )


def method_of(request: HttpRequest) -> str:
    """The method as a label: one of the known ones, else OTHER (a client may send any token)."""
    method = request.method or ""
    return method if method in KNOWN_METHODS else OTHER_METHOD


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else UNMATCHED


class MetricsMiddleware:
    """Counts and times every request; logs every command with its correlation id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route = route_of(request)
        status = str(response.status_code)
        method = method_of(request)
        REQUESTS.labels(method, route, status).inc()
        LATENCY.labels(method, route, status).observe(elapsed)
        if is_command(request):
            outcome = f"{response.status_code // 100}xx"
            COMMANDS.labels(outcome).inc()
            logger.info(
                "command %s %s -> %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "correlation_id": request_id_var.get(),
                },
            )
        return response


class EventStoreCollector:
    """Scrape-time figures from the databases: the log head and every projection's position and lag."""

    def collect(self) -> Iterator[Metric]:
        from eventstore.log.append import head
        from eventstore.projections.status import projection_statuses

        appended = CounterMetricFamily("eventstore_events_appended", "Events appended to the log (head position)")
        appended.add_metric([], head().position)
        yield appended
        gauges = {
            "checkpoint": GaugeMetricFamily(
                "projection_checkpoint_position", "Log position a projection has reached", labels=["projection"]
            ),
            "lag_events": GaugeMetricFamily(
                "projection_lag_events", "Events a projection has still to read", labels=["projection"]
            ),
            "lag_seconds": GaugeMetricFamily(
                "projection_lag_seconds", "Age of the oldest event a projection lacks", labels=["projection"]
            ),
            "failed": GaugeMetricFamily(
                "projection_failed", "1 when the projection has stopped on an event", labels=["projection"]
            ),
            "needs_rebuild": GaugeMetricFamily(
                "projection_needs_rebuild", "1 when code and stored versions differ", labels=["projection"]
            ),
        }
        for s in projection_statuses():
            gauges["checkpoint"].add_metric([s.name], s.checkpoint_position)
            gauges["lag_events"].add_metric([s.name], s.lag_events)
            gauges["lag_seconds"].add_metric([s.name], s.lag_seconds)
            gauges["failed"].add_metric([s.name], 1 if s.status == "failed" else 0)
            gauges["needs_rebuild"].add_metric([s.name], 1 if s.needs_rebuild else 0)
        yield from gauges.values()
        from eventstore.projections.base import all_projections

        yield from rebuild_gauges([projection.name for projection in all_projections()])
        yield from _tamper_metrics()


REBUILD_ACTIVE_PHASES = frozenset({"queued", "running", "swapping"})


def rebuild_gauges(names: list[str]) -> list[Metric]:
    """Each projection's latest rebuild from the shared cache (eventstore.rebuild.progress), where the worker
    running it reports: whether it is under way, and the share of the log it has replayed."""
    from django.core.cache import cache

    from eventstore.rebuild.progress import progress_key

    running = GaugeMetricFamily(
        "projection_rebuild_running", "1 while a rebuild of the projection is queued or running", labels=["projection"]
    )
    progress = GaugeMetricFamily(
        "projection_rebuild_progress_ratio",
        "Share of the log the projection's latest rebuild has replayed (1 once done)",
        labels=["projection"],
    )
    try:
        entries = cache.get_many([progress_key(name) for name in names])
    except Exception:  # a scrape must answer with the database figures even when the cache is down
        logger.warning("rebuild progress unavailable for /metrics", exc_info=True)
        entries = {}
    for name in names:
        entry = entries.get(progress_key(name))
        if not entry:
            continue
        phase, done, total = entry.get("phase"), entry.get("events_done", 0), entry.get("events_total", 0)
        running.add_metric([name], 1 if phase in REBUILD_ACTIVE_PHASES else 0)
        progress.add_metric([name], 1.0 if phase == "done" else (done / total if total else 0.0))
    return [running, progress]


def _tamper_metrics() -> Iterator[Metric]:
    """The last verification's outcome and reach, and the last seal's: no sample before the first of each."""
    from eventstore.tamper.runs import last_verification
    from eventstore.tamper.seals import last_seal

    verification = last_verification()
    ok = GaugeMetricFamily("eventstore_last_verification_ok", "1 when the last whole-log verification held")
    position = GaugeMetricFamily(
        "eventstore_last_verification_checkpoint_position", "Log position the last verification covered"
    )
    when = GaugeMetricFamily(
        "eventstore_last_verification_timestamp_seconds", "When the last verification finished (Unix time)"
    )
    checked = GaugeMetricFamily("eventstore_last_verification_events_checked", "Events the last verification read")
    if verification is not None:
        ok.add_metric([], 1 if verification.ok else 0)
        position.add_metric([], verification.checkpoint_position)
        when.add_metric([], verification.finished_at.timestamp())
        checked.add_metric([], verification.events_checked)
    seal = last_seal()
    sealed_position = GaugeMetricFamily("eventstore_last_seal_checkpoint_position", "Log position the last seal covers")
    sealed_when = GaugeMetricFamily("eventstore_last_seal_timestamp_seconds", "When the last seal was made (Unix time)")
    if seal is not None:
        sealed_position.add_metric([], seal.checkpoint_position)
        sealed_when.add_metric([], seal.sealed_at.timestamp())
    yield from (ok, position, when, checked, sealed_position, sealed_when)


_DATABASE_REGISTRY = CollectorRegistry(auto_describe=False)
_DATABASE_REGISTRY.register(EventStoreCollector())


def render() -> bytes:
    """The whole exposition: process (or all processes') request metrics, then the database figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(_DATABASE_REGISTRY)

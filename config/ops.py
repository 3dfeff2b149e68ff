"""Health, readiness and metrics views for load balancers, orchestrators and Prometheus.

`/healthz` only says the process serves (a restart will not fix a database outage, so
liveness must not depend on it). `/readyz` says whether this instance should get
traffic: both databases answer, the broker answers when one is configured, and no
projection has stopped on a failed event (its views would be silently stale). Its
answer names the failed checks only; what went wrong (exception text, which projection)
goes to the log, not to whoever can reach the endpoint.

`/metrics` is open unless METRICS_TOKEN is set; then it wants `Authorization: Bearer
<token>` (401 otherwise).
"""

import hmac
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from config import metrics as prometheus

BROKER_TIMEOUT_SECONDS = 1.0

logger = logging.getLogger("orders.ops")


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """200 when every check passes, else 503 naming each failed check (the details go to the log)."""
    checks: dict[str, str] = {}
    reasons: list[str] = []
    for name, check in _checks():
        try:
            problem = check()
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}".strip()[:300]
        checks[name] = "ok" if problem is None else "fail"
        if problem is not None:
            reasons.append(name)
            logger.warning("readiness check %s failed: %s", name, problem, extra={"check": name})
    ready = not reasons
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks, "reasons": reasons},
        status=200 if ready else 503,
    )


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition (see config/metrics.py), behind a bearer token when METRICS_TOKEN is set."""
    if not _metrics_authorized(request):
        response = JsonResponse(
            {"detail": "A valid bearer token is needed for /metrics.", "code": "not_authenticated"}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(prometheus.render(), content_type=prometheus.CONTENT_TYPE)


def _metrics_authorized(request: HttpRequest) -> bool:
    expected = getattr(settings, "METRICS_TOKEN", "") or ""
    if not expected:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def _checks() -> list[tuple[str, Callable[[], str | None]]]:
    checks: list[tuple[str, Callable[[], str | None]]] = [("database", lambda: _database("default"))]
    if "read" in settings.DATABASES:
        checks.append(("read_database", lambda: _database("read")))
    if _broker_url():
        checks.append(("broker", _broker))
    checks.append(("projections", _projections))
    return checks


def _database(alias: str) -> str | None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return None


def _broker_url() -> str:
    url = settings.CELERY_BROKER_URL or ""
    return url if url.startswith(("redis://", "rediss://")) else ""


def _broker() -> str | None:
    import redis

    client = redis.Redis.from_url(
        _broker_url(), socket_timeout=BROKER_TIMEOUT_SECONDS, socket_connect_timeout=BROKER_TIMEOUT_SECONDS
    )
    try:
        return None if client.ping() else "no PONG"
    finally:
        client.close()


def _projections() -> str | None:
    from eventstore.models import ProjectionState
    from eventstore.routers import read_db_alias

    failed = list(
        ProjectionState.objects.using(read_db_alias())
        .filter(status=ProjectionState.Status.FAILED)
        .values_list("name", "failed_position")
    )
    if not failed:
        return None
    return "failed: " + ", ".join(f"{name} at position {position}" for name, position in failed)

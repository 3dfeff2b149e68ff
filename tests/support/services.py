"""Which real services this run has: PostgreSQL, a broker, a shared Redis cache.

The suite runs on SQLite with eager tasks when none is configured; tests that need one
are skipped with the reason (tests/conftest.py marks them), never faked.
"""

from django.conf import settings
from django.db import connections

BROKER_SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")
NEEDS_BROKER = "needs a broker (Redis or RabbitMQ): set CELERY_BROKER_URL (CI does)"
NEEDS_REDIS_CACHE = (
    "needs Redis as the cache, shared by the worker and the tests: set REDIS_URL (a Redis CELERY_BROKER_URL "
    "implies it; with RabbitMQ set both, as CI does)"
)


def on_postgres() -> bool:
    return connections["default"].vendor == "postgresql"


def has_broker() -> bool:
    """A real broker (Redis or RabbitMQ) rather than eager tasks on the in-memory transport."""
    return settings.CELERY_BROKER_URL.startswith(BROKER_SCHEMES)


def has_redis_cache() -> bool:
    """The default cache is Redis (REDIS_URL, or a Redis broker's URL), so every process shares it.

    The worker tests need it whatever the broker: the projections' coalescing flags and a
    rebuild's progress are set in one process and cleared or read in another.
    """
    return settings.CACHES["default"]["BACKEND"].endswith(".RedisCache")


def worker_skip_reason() -> str | None:
    if not has_broker():
        return NEEDS_BROKER
    if not has_redis_cache():
        return NEEDS_REDIS_CACHE
    return None

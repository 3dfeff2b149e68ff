"""Celery tasks that run projections, and the coalesced trigger a commit fires.

A burst of commits must not queue a burst of tasks: a per-projection "pending" flag
in the cache (Redis in production) lets one task stand for every commit that
happened before it started. The task clears the flag first, so a commit that lands
while it runs queues exactly one more. Beat runs `catch_up_all_projections` every
few seconds as the safety net for a lost trigger or a crashed worker.
"""

import logging
from typing import Any

from celery import shared_task
from django.core.cache import cache

from eventstore import runner
from eventstore.projections import all_projections

logger = logging.getLogger(__name__)

PENDING_TTL_SECONDS = 30


def _pending_key(name: str) -> str:
    return f"eventstore:catch-up-pending:{name}"


@shared_task(acks_late=True, ignore_result=True)
def catch_up_projection(name: str) -> int:
    """Advance one projection to the head of the log."""
    cache.delete(_pending_key(name))
    return runner.catch_up(name)


@shared_task(ignore_result=True, expires=10)
def catch_up_all_projections() -> None:
    """Beat's safety net: queue a catch-up for every projection (coalesced like any trigger)."""
    for projection in all_projections():
        request_catch_up_of(projection.name)


def request_catch_up_of(name: str) -> None:
    """Queue a catch-up unless one is already waiting to start."""
    if not cache.add(_pending_key(name), 1, timeout=PENDING_TTL_SECONDS):
        return
    try:
        catch_up_projection.delay(name)
    except Exception:
        cache.delete(_pending_key(name))
        raise


def request_catch_up(**_: Any) -> None:
    """Receiver of `events_committed`: every projection may have new work."""
    for projection in all_projections():
        request_catch_up_of(projection.name)

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
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

from eventstore import runner
from eventstore.post_commit import best_effort, record_failure
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
    """Beat's safety net: queue a catch-up for every projection, past the coalescing flag.

    A worker killed with a catch-up in its prefetch leaves that projection's flag set
    (up to PENDING_TTL_SECONDS) and the message unacked (until the broker's visibility
    timeout): a net that went through the flag would be held back by the very crash it
    is for (tests/e2e/test_faults.py measured 30 s). A catch-up too many is harmless:
    the runner's row lock lets one worker advance a projection, and it expires unstarted.
    """
    for projection in all_projections():
        catch_up_projection.apply_async((projection.name,), expires=10)


def request_catch_up_of(name: str) -> None:
    """Queue a catch-up unless one is already waiting to start."""
    if not cache.add(_pending_key(name), 1, timeout=PENDING_TTL_SECONDS):
        return
    try:
        catch_up_projection.delay(name)
    except Exception:
        cache.delete(_pending_key(name))
        raise


def redis_cache() -> RedisCache | None:
    """The default cache's backend when it is Redis, else None.

    Not `isinstance(cache, RedisCache)`: `django.core.cache.cache` is a proxy, never an
    instance of the backend class, so that check always failed and every commit paid
    one round trip per projection instead of the pipeline below.
    """
    backend = caches[DEFAULT_CACHE_ALIAS]
    return backend if isinstance(backend, RedisCache) else None


def request_catch_up(**_: Any) -> None:
    """Receiver of `events_committed`: every projection may have new work.

    Runs after a command's commit, so it never raises (eventstore.post_commit): with
    the cache or the broker unreachable it gives up after one bounded try, and beat's
    catch-up (or `run_projector`) brings the views along when they are back. Every
    command pays this, so with Redis all the flags are set in one pipelined round trip
    (`SET NX EX`, what `cache.add` sends) instead of one each: ~0.2 ms of CPU and two
    round trips saved per CreateOrder (profiled with bench/commands.py's workload).
    """
    names = [projection.name for projection in all_projections()]
    redis = redis_cache()
    if redis is None:
        _publish([name for name in names if cache.add(_pending_key(name), 1, timeout=PENDING_TTL_SECONDS)])
        return
    try:
        pipe = redis._cache.get_client(write=True).pipeline(transaction=False)
        for name in names:
            pipe.set(redis.make_and_validate_key(_pending_key(name)), 1, nx=True, ex=PENDING_TTL_SECONDS)
        added = pipe.execute()
    except Exception:
        record_failure("cache")  # no flag, no publish: a second timeout would only double the delay
        return
    _publish([name for name, was_added in zip(names, added, strict=True) if was_added])


def _publish(names: list[str]) -> None:
    """Queue a catch-up of each projection whose flag we set; on the first failure stop and drop the rest's flags.

    A flag left set without its task would hold that projection's triggers back for
    PENDING_TTL_SECONDS, so the flags of what was not queued are deleted (best-effort too).
    """
    for index, name in enumerate(names):
        try:
            catch_up_projection.delay(name)
        except Exception:
            record_failure("publish")
            best_effort("cache", cache.delete_many, [_pending_key(n) for n in names[index:]])
            return


# Operations: rebuilds started from the admin ----------------------------------------------


@shared_task(ignore_result=True)
def rebuild_projections(names: list[str], in_place: bool = False) -> None:
    """Rebuild each named projection (blue/green unless in_place); progress goes to the cache."""
    from eventstore.rebuild import rebuild_projection

    for name in names:
        rebuild_projection(name, in_place=in_place)


def queue_rebuild(names: list[str], *, in_place: bool = False) -> None:
    """Mark the rebuilds as queued (the admin shows it before a worker picks the task up), then queue it."""
    from django.utils import timezone

    from eventstore.rebuild import PROGRESS_TTL_SECONDS, progress_key

    now = timezone.now().isoformat()
    for name in names:
        cache.set(
            progress_key(name),
            {"phase": "queued", "events_done": 0, "events_total": 0, "started_at": now, "updated_at": now},
            timeout=PROGRESS_TTL_SECONDS,
        )
    rebuild_projections.delay(list(names), in_place)


# Tamper evidence: beat seals the log while it grows --------------------------------------


@shared_task(ignore_result=True, expires=60)
def seal_log() -> None:
    """Seal what was appended since the last seal; a no-op when the log has not grown."""
    from eventstore.tamper.seals import seal_log as seal_new_events

    seal_new_events()


# Tasks defined beside what they run, imported here so that a worker registers them ---------

from eventstore.lag_history import sample_projection_lag  # noqa: E402, F401
from eventstore.tamper.tasks import verify_whole_log  # noqa: E402, F401

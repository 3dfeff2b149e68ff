"""Celery tasks: catching projections up, rebuilding them, sealing the log.

Who queues the catch-ups, and why there is one task per burst of commits rather than
one per commit, is `eventstore.projections.wakeups`'s story; beat runs
`catch_up_all_projections` every few seconds as the safety net.
"""

from celery import shared_task
from django.core.cache import cache

from eventstore.projections import runner, wakeups
from eventstore.projections.base import all_projections


@shared_task(acks_late=True, ignore_result=True)
def catch_up_projection(name: str) -> int:
    """Advance one projection to the head of the log, holding its pending flag until it stops (`HeldTrigger`)."""
    return runner.catch_up(name, trigger=wakeups.HeldTrigger(name))


@shared_task(ignore_result=True, expires=10)
def catch_up_all_projections() -> None:
    """Beat's safety net: queue a catch-up for every projection, past the coalescing flag.

    A worker killed with a catch-up in its prefetch leaves that projection's flag set
    (up to PENDING_TTL_SECONDS) and the message unacked (until the broker's visibility
    timeout): a net that went through the flag would be held back by the very crash it
    is for (tests/e2e/test_faults.py). A catch-up too many is harmless: the runner's
    row lock lets one worker advance a projection, and it expires unstarted.
    """
    for projection in all_projections():
        catch_up_projection.apply_async((projection.name,), expires=10)


# Operations: rebuilds started from the admin ----------------------------------------------


@shared_task(ignore_result=True)
def rebuild_projections(names: list[str], in_place: bool = False) -> None:
    """Rebuild each named projection (blue/green unless in_place); progress goes to the cache."""
    from eventstore.rebuild.orchestration import rebuild_projection

    for name in names:
        rebuild_projection(name, in_place=in_place)


def queue_rebuild(names: list[str], *, in_place: bool = False) -> None:
    """Mark the rebuilds as queued (the admin shows it before a worker picks the task up), then queue it."""
    from django.utils import timezone

    from eventstore.rebuild.orchestration import PROGRESS_TTL_SECONDS, progress_key

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

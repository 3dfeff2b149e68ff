"""Projection lag over time: beat samples every projection's lag, and the operations page charts it.

The lag now can always be computed from the log (eventstore.projections.status), but not the lag
of ten minutes ago: the checkpoints only say where each projection stands today, and
deriving the past from event times would assume every projection applied each event
the moment it was readable. So the lag is sampled (a row per projection per sample)
and samples older than LAG_SAMPLE_KEEP_SECONDS are pruned by the sampler itself.
"""

from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from eventstore.models import LagSample
from eventstore.projections.status import projection_statuses

LAG_SAMPLE_KEEP_SECONDS = 2 * 3600


def take_lag_sample(*, now: datetime | None = None) -> list[LagSample]:
    """Record every projection's lag now, and forget samples past the keep window."""
    now = now or timezone.now()
    samples = [
        LagSample(taken_at=now, projection=s.name, lag_events=s.lag_events, lag_seconds=s.lag_seconds)
        for s in projection_statuses()
    ]
    LagSample.objects.using(DEFAULT_DB_ALIAS).bulk_create(samples)
    keep = getattr(settings, "LAG_SAMPLE_KEEP_SECONDS", LAG_SAMPLE_KEEP_SECONDS)
    LagSample.objects.using(DEFAULT_DB_ALIAS).filter(taken_at__lt=now - timedelta(seconds=keep)).delete()
    return samples


def sample_unless_recent(*, within_seconds: float) -> None:
    """Take a sample unless one is younger than `within_seconds`.

    The operations page calls this, so its lag chart fills even where no beat runs (the
    embedded default, `make run`); with beat running, beat's samples are recent enough.
    """
    since = timezone.now() - timedelta(seconds=within_seconds)
    if not LagSample.objects.using(DEFAULT_DB_ALIAS).filter(taken_at__gte=since).exists():
        take_lag_sample()


def lag_history(*, since: datetime) -> dict[str, list[LagSample]]:
    """The samples taken since `since`, per projection, oldest first."""
    history: dict[str, list[LagSample]] = {}
    for sample in LagSample.objects.using(DEFAULT_DB_ALIAS).filter(taken_at__gte=since).order_by("taken_at"):
        history.setdefault(sample.projection, []).append(sample)
    return history


@shared_task(ignore_result=True, expires=30)
def sample_projection_lag() -> None:
    """Beat's lag sample for the operations page's chart."""
    take_lag_sample()

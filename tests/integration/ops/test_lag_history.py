"""Projection lag samples: one row per projection per sample, the right lag, and nothing kept past the window."""

from datetime import timedelta

import pytest
from django.utils import timezone

from eventstore.lag_history import lag_history, sample_projection_lag, sample_unless_recent, take_lag_sample
from eventstore.models import LagSample
from eventstore.projections.base import all_projections
from eventstore.projections.runner import catch_up
from tests.integration.ops.counting import NAME, add_products, wait_until_readable
from tests.integration.orders_read.support import manual_projections  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.mark.usefixtures("manual_projections")
def test_a_sample_records_each_projections_lag_in_events(counting_projection) -> None:
    add_products(3)  # 6 events: registered and received, each product
    wait_until_readable()
    samples = {s.projection: s for s in take_lag_sample()}
    assert set(samples) == {p.name for p in all_projections()}
    assert samples[NAME].lag_events == 6 and samples[NAME].lag_seconds >= 0
    catch_up(NAME)
    assert {s.projection: s.lag_events for s in take_lag_sample()}[NAME] == 0


def test_samples_older_than_the_window_are_pruned(settings) -> None:
    settings.LAG_SAMPLE_KEEP_SECONDS = 3600
    now = timezone.now()
    LagSample.objects.create(taken_at=now - timedelta(hours=2), projection="old", lag_events=1, lag_seconds=0)
    LagSample.objects.create(taken_at=now - timedelta(minutes=30), projection="kept", lag_events=2, lag_seconds=0)
    sample_projection_lag()  # the beat task, run in-process
    assert not LagSample.objects.filter(projection="old").exists()
    assert LagSample.objects.filter(projection="kept").exists()
    assert set(lag_history(since=now - timedelta(hours=1))) >= {"kept", *(p.name for p in all_projections())}


def test_a_page_view_samples_only_when_no_recent_sample_exists() -> None:
    sample_unless_recent(within_seconds=60)
    taken = LagSample.objects.count()
    assert taken == len(all_projections())
    sample_unless_recent(within_seconds=60)
    assert LagSample.objects.count() == taken

"""/metrics shows a rebuild's progress as the worker running it reports it to the shared cache."""

import pytest
from django.core.cache import cache
from prometheus_client.parser import text_string_to_metric_families

from eventstore.projections.base import all_projections
from eventstore.rebuild.orchestration import rebuild_projection
from eventstore.rebuild.progress import Reporter, progress_key

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def rebuild_samples(client) -> dict[tuple[str, str], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, sample.labels["projection"]): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        if family.name.startswith("projection_rebuild_")
        for sample in family.samples
    }


@pytest.fixture
def no_progress():
    keys = [progress_key(p.name) for p in all_projections()]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def test_no_rebuild_no_series(anon_client, no_progress) -> None:
    assert rebuild_samples(anon_client) == {}


def test_a_running_rebuild_shows_its_share_then_done(anon_client, no_progress) -> None:
    reporter = Reporter("order_summary", 200, None)
    reporter.advance(50)
    reporter.phase("running")  # stores now, whatever the throttle
    samples = rebuild_samples(anon_client)
    assert samples[("projection_rebuild_running", "order_summary")] == 1
    assert samples[("projection_rebuild_progress_ratio", "order_summary")] == 0.25
    assert ("projection_rebuild_running", "catalogue") not in samples

    reporter.advance(150)
    reporter.finish("done")
    samples = rebuild_samples(anon_client)
    assert samples[("projection_rebuild_running", "order_summary")] == 0
    assert samples[("projection_rebuild_progress_ratio", "order_summary")] == 1.0


def test_a_real_rebuild_ends_reported_done(anon_client, no_progress) -> None:
    rebuild_projection("catalogue")
    samples = rebuild_samples(anon_client)
    assert samples[("projection_rebuild_running", "catalogue")] == 0
    assert samples[("projection_rebuild_progress_ratio", "catalogue")] == 1.0

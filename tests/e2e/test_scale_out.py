"""Scale-out: two web nodes and two Celery workers, and every view still equals the log exactly.

Two separate gunicorn instances (two ports, two workers each) take a concurrent command
workload while two Celery workers race to run the projections against the separate read
database (READ_DATABASE_URL, as CI sets it). The runner's row lock must let exactly one
worker apply each batch: a batch applied twice or skipped shows up as a view that
differs from the fold of its stream, or as an `events_applied` count that differs from
the number of handled events appended.
"""

import re
import time
import uuid
from collections.abc import Callable

import pytest
from django.conf import settings

from eventstore.models import Event
from eventstore.tasks import catch_up_all_projections
from tests.support.api import ApiClient, register
from tests.support.consistency import (
    events_applied,
    handled_events_in_log,
    projections_at_head,
    wait_for_views_to_match,
)
from tests.support.gunicorn import GunicornProcess
from tests.support.processes import WorkerProcess
from tests.support.workload import command_burst, run_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def _wait_at_head(timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not projections_at_head():
        assert time.monotonic() < deadline, "projections did not reach the head of the log"
        catch_up_all_projections.delay()
        time.sleep(0.3)


def test_two_web_nodes_and_two_workers_build_views_equal_to_the_log(
    start_gunicorn: Callable[..., GunicornProcess],
    running_worker: WorkerProcess,
    start_extra_worker: Callable[[], WorkerProcess],
    staff_token: str,
    api_for: Callable[..., ApiClient],
) -> None:
    if "read" not in settings.DATABASES:
        pytest.skip("needs a separate read database: set READ_DATABASE_URL (CI does)")
    nodes = [start_gunicorn(workers=2, threads=4), start_gunicorn(workers=2, threads=4)]
    second_worker = start_extra_worker()
    run = uuid.uuid4().hex[:8]
    skus = [f"so-{run}-{i}" for i in range(4)]
    customers = [f"so-{run}-c{i}" for i in range(6)]
    setup = api_for(nodes[0].url, staff_token)
    for sku in skus:
        assert register(setup, sku, stock=10_000, expect=None).status_code == 201
    _wait_at_head()
    applied_before, handled_before = events_applied(), handled_events_in_log()

    outcomes = run_threads(
        [
            (
                lambda i=i, c=c: command_burst(
                    api_for(nodes[i % 2].url, staff_token), customer=c, skus=skus, commands=25, seed=100 + i
                )
            )
            for i, c in enumerate(customers)
        ]
    )

    assert [e for o in outcomes for e in o.errors] == []
    assert sum(o.accepted for o in outcomes) >= len(customers) * 10, [o.refused for o in outcomes]
    for node in nodes:  # both nodes answer the same views
        wait_for_views_to_match(
            api_for(node.url, staff_token),
            skus=skus,
            customer_ids=customers,
            timeout=60,
            nudge=catch_up_all_projections.delay,
        )
    _wait_at_head()
    created = sorted(order_id for o in outcomes for order_id in o.created)
    logged = sorted(
        Event.objects.filter(event_type="OrderCreated", data__customer_id__in=customers).values_list(
            "data__order_id", flat=True
        )
    )
    assert created == logged
    applied_after, handled_after = events_applied(), handled_events_in_log()
    assert {n: applied_after[n] - applied_before[n] for n in applied_after} == {
        n: handled_after[n] - handled_before[n] for n in handled_after
    }, "a projection batch was applied twice or skipped"
    applied_by_second = r"catch_up_projection\[[^]]+\] succeeded in [0-9.e-]+s: [1-9]"  # returned events > 0
    assert re.search(applied_by_second, second_worker.log_path.read_text()), (
        "the second worker applied no event: the projections were not spread over two workers"
    )

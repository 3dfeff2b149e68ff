"""The app's own processes at work on the log and the views: commands, catch-ups, a seal and a rebuild.

Gunicorn takes the commands, the Celery worker projects them, seals the log and runs a
blue/green rebuild of every projection, the way the admin starts one. CI runs this (and
the other end-to-end tests) with RUNTIME_DATABASE_USER set, so those processes connect
as the runtime role `grant_runtime_role` made: a privilege the code needs and the role
lacks (a sequence, the checkpoints, the seals, the shadow tables) fails here.
"""

import time
import uuid
from collections.abc import Callable

import pytest
from django.db import connections

from eventstore.models import Seal
from eventstore.projections.base import all_projections
from eventstore.rebuild.orchestration import rebuild_progress
from eventstore.routers import read_db_alias
from eventstore.tasks import catch_up_all_projections, queue_rebuild, seal_log
from tests.support.api import ApiClient, register
from tests.support.consistency import wait_for_views_to_match
from tests.support.gunicorn import GunicornProcess
from tests.support.processes import WorkerProcess, runtime_role
from tests.support.workload import command_burst

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def _nudge() -> None:
    catch_up_all_projections.delay()


def _await(condition: Callable[[], bool], what: str, *, timeout: float = 90.0, retry: Callable[[], None]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s"
        retry()
        time.sleep(0.5)


def _sessions_of(alias: str) -> set[str]:
    """The roles of the other sessions on the test database behind `alias`."""
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def _rebuilt(names: list[str]) -> bool:
    phases = {name: (rebuild_progress(name) or {}).get("phase") for name in names}
    assert "failed" not in phases.values(), f"a rebuild failed in the worker: {phases}"
    return all(phase == "done" for phase in phases.values())


def test_the_app_processes_command_project_seal_and_rebuild(
    start_gunicorn: Callable[..., GunicornProcess],
    running_worker: WorkerProcess,
    staff_token: str,
    api_for: Callable[..., ApiClient],
) -> None:
    node = start_gunicorn(workers=1)
    api = api_for(node.url, staff_token)
    run = uuid.uuid4().hex[:8]
    skus, customer = [f"role-{run}-{i}" for i in range(3)], f"role-{run}"
    for sku in skus:
        register(api, sku, stock=1000)
    outcome = command_burst(api, customer=customer, skus=skus, commands=30, seed=11)
    assert outcome.errors == [] and outcome.created
    wait_for_views_to_match(api, skus=skus, customer_ids=[customer], timeout=60, nudge=_nudge)

    seals = Seal.objects.count()
    _await(lambda: Seal.objects.count() > seals, "a seal by the worker", retry=seal_log.delay)

    names = [p.name for p in all_projections()]
    before = {sku: api.product(sku).json() for sku in skus}
    queue_rebuild(names)
    _await(lambda: _rebuilt(names), "the worker's rebuilds", retry=lambda: None, timeout=180)
    wait_for_views_to_match(api, skus=skus, customer_ids=[customer], timeout=60, nudge=_nudge)
    assert {sku: api.product(sku).json() for sku in skus} == before

    if role := runtime_role():
        assert role in _sessions_of("default") and role in _sessions_of(read_db_alias())
        with connections[read_db_alias()].cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relname = ANY(%s)",
                [[m._meta.db_table for p in all_projections() for m in p.models]],
            )
            assert cursor.fetchall() == [(role,)]  # the swapped-in views are still the runtime role's

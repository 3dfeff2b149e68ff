"""Database faults against real processes: every backend of the app's databases terminated while
a Celery worker, or `run_projector`, is in the middle of a catch-up, and new connections
refused for a moment after, as in a restart.

The fault is placed, not hoped for: the view tables are held locked, a command's commit
sets the projections going, and the backends are terminated once the runners are seen
waiting on those locks, each inside its batch transaction with its log connection open.
Neither process is restarted, and nothing nudges them (no beat, no new commit, a poll
ten minutes away): the catch-up that was cut off must retry until the database is back
and finish on its own. Then new commands must reach the views too, no projection may be
failed, and every event must be applied exactly once.
"""

import subprocess
import sys
import time
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from rest_framework.test import APIClient

from eventstore.models import ProjectionState
from eventstore.projections.base import all_projections
from eventstore.projections.wakeups import pending_key
from eventstore.routers import read_db_alias
from eventstore.tasks import catch_up_all_projections
from tests.integration.orders_read.support import manual_projections
from tests.support.api import place, register
from tests.support.consistency import events_applied, fold_products, handled_events_in_log, projections_at_head
from tests.support.db_faults import (
    connections_refused,
    listener_pids,
    terminate_all_backends,
    views_locked,
    wait_for_lock_waiters,
)
from tests.support.processes import ROOT, WorkerProcess, subprocess_env

__all__ = ["manual_projections"]  # the fixture, imported for pytest

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def failed_projections() -> dict[str, str]:
    states = ProjectionState.objects.using(read_db_alias()).filter(status=ProjectionState.Status.FAILED)
    return {s.name: s.last_error[-600:] for s in states}


def wait_for_views(timeout: float = 60.0) -> None:
    """Until every projection has passed the last committed event, failing at once if one is marked failed."""
    deadline = time.monotonic() + timeout
    while not projections_at_head():
        failed = failed_projections()
        assert not failed, f"projections marked failed by a database fault: {failed}"
        assert time.monotonic() < deadline, "projections did not reach the head of the log"
        time.sleep(0.1)
    assert failed_projections() == {}


def assert_views_match_the_log(staff: APIClient, skus: list[str]) -> None:
    for sku, fold in fold_products(skus).items():
        view = staff.get(f"/api/products/{sku}/").json()
        assert (view["on_hand"], view["reserved"], view["version"]) == (fold.on_hand, fold.reserved, fold.version)


OUTAGE_SECONDS = 1.0
"""How long the databases refuse connections after the terminations: well within the runner's retry budget."""


def fault_mid_catch_up(customer: APIClient, sku: str, runners: int) -> list[int]:
    """Commit an order while the views are locked, wait for `runners` catch-ups to block on them,
    then terminate every backend and refuse connections for OUTAGE_SECONDS."""
    with views_locked() as locker:
        place(customer, (sku, 1))
        wait_for_lock_waiters(runners)
        with connections_refused():
            killed = terminate_all_backends(last=[locker.info.backend_pid])  # the waiters die still waiting
            time.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for something
    connections.close_all()  # this process's connections were terminated too
    return killed


@pytest.mark.worker
def test_a_worker_survives_every_backend_terminated_mid_catch_up_and_goes_on_without_a_restart(
    running_worker: WorkerProcess, staff_client: APIClient, customer_client: APIClient
) -> None:
    cache.delete_many([pending_key(p.name) for p in all_projections()])  # no flag left by an earlier fault test
    run = uuid.uuid4().hex[:8]
    skus = [f"dbf-{run}-{i}" for i in range(2)]
    for sku in skus:
        register(staff_client, sku, stock=1000)
    deadline = time.monotonic() + 60
    while not projections_at_head():  # a clean start: nothing older pending
        assert time.monotonic() < deadline
        catch_up_all_projections.delay()
        time.sleep(0.3)
    applied_before, handled_before = events_applied(), handled_events_in_log()
    worker_pid = running_worker.process.pid

    killed = fault_mid_catch_up(customer_client, skus[0], runners=len(all_projections()))
    assert len(killed) > len(all_projections())  # the worker's read and log connections, ours, the lock holder's
    wait_for_views()  # the cut-off catch-ups retried through the outage: no new commit, no beat

    for i in range(4):  # new commands after the fault: their commits trigger the same worker
        place(customer_client, (skus[i % 2], 1 + i))
    wait_for_views()  # no beat, no nudge: the worker's own retries and the commit triggers

    assert running_worker.process.pid == worker_pid and running_worker.process.poll() is None  # never restarted
    applied_after, handled_after = events_applied(), handled_events_in_log()
    assert {n: applied_after[n] - applied_before[n] for n in applied_after} == {
        n: handled_after[n] - handled_before[n] for n in handled_after
    }  # every event applied exactly once, the one whose batch was cut off included
    assert_views_match_the_log(staff_client, skus)


# run_projector --------------------------------------------------------------------------


class ProjectorProcess:
    """`manage.py run_projector` with a 10-minute poll: only NOTIFYs, and its own recovery, move the views."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_projector", "--poll-seconds", "600"],
            cwd=ROOT,
            env=subprocess_env(),
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def wait_listening(self, ignore: Collection[int] = (), timeout: float = 30.0) -> int:
        """The pid of its LISTEN backend, once there is one (not among `ignore`)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"run_projector exited:\n{self.log()}"
            pids = [pid for pid in listener_pids(settings.EVENTSTORE_NOTIFY_CHANNEL) if pid not in ignore]
            if pids:
                return pids[0]
            assert time.monotonic() < deadline, f"run_projector is not listening:\n{self.log()}"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def projector(tmp_path: Path, manual_projections: None) -> Iterator[ProjectorProcess]:
    """A real run_projector process; commits queue no Celery task meanwhile, so it is the only runner."""
    process = ProjectorProcess(tmp_path / "run_projector.log")
    try:
        yield process
    finally:
        process.stop()


def test_run_projector_survives_every_backend_terminated_mid_catch_up_and_goes_on_without_a_restart(
    projector: ProjectorProcess, staff_client: APIClient, customer_client: APIClient
) -> None:
    run = uuid.uuid4().hex[:8]
    skus = [f"dbp-{run}-{i}" for i in range(2)]
    for sku in skus:
        register(staff_client, sku, stock=1000)
    projector.wait_listening()
    wait_for_views()  # its first pass, or the NOTIFYs of the registrations
    applied_before, handled_before = events_applied(), handled_events_in_log()

    killed = fault_mid_catch_up(customer_client, skus[0], runners=len(all_projections()))  # a thread each
    wait_for_views()  # the cut-off catch-up retried through the outage: no NOTIFY since, no poll for 10 minutes

    projector.wait_listening(ignore=killed)  # it listens again, on a new connection
    for i in range(4):
        place(customer_client, (skus[i % 2], 1 + i))
    wait_for_views()  # the poll is 10 minutes away: NOTIFYs and its own recovery only

    assert projector.process.poll() is None, projector.log()  # never restarted
    applied_after, handled_after = events_applied(), handled_events_in_log()
    assert {n: applied_after[n] - applied_before[n] for n in applied_after} == {
        n: handled_after[n] - handled_before[n] for n in handled_after
    }
    assert_views_match_the_log(staff_client, skus)
    assert "listening again" in projector.log()

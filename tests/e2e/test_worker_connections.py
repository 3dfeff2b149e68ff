"""A projection worker's threads open their database connections at start-up and keep them from task to task.

A catch-up that opened its connections first would pay for a server process and a
session before reading an event, inside the views' lag. The worker here is a real
`celery worker` with a pool of four threads (as README and compose run it); which
connections it holds is read from PostgreSQL's `pg_stat_activity`: the backends of
the test databases started since just before the worker.
"""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from eventstore.projections.base import all_projections
from eventstore.tasks import catch_up_projection
from tests.support.processes import WorkerProcess

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

THREADS = 4


def now() -> object:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def backends_since(started: object) -> set[int]:
    """The client backends of the test databases started after `started` (this test's own excluded)."""
    names = sorted({db["NAME"] for db in settings.DATABASES.values()})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND backend_type = 'client backend'"
            " AND backend_start > %s AND pid <> pg_backend_pid()",
            [names, started],
        )
        return {pid for (pid,) in cursor.fetchall()}


def connections_per_thread() -> int:
    """A catch-up reads the log on the default database and its state on the read one, if there is one."""
    return 2 if "read" in settings.DATABASES else 1


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout}s: {what}")
        time.sleep(0.1)


def succeeded(worker: WorkerProcess, since: int) -> int:
    return worker.log_path.read_bytes()[since:].count(b"succeeded in")


@pytest.fixture
def own_worker(celery_queue: str, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A worker of its own on a queue of its own, so no other worker of the session takes its tasks."""
    worker = WorkerProcess(f"{celery_queue}-connections", tmp_path / "worker.log")
    try:
        yield worker
    finally:
        worker.stop()


def test_a_projection_workers_threads_connect_at_start_up_and_keep_their_connections_across_tasks(
    own_worker: WorkerProcess,
) -> None:
    worker = own_worker
    started = now()
    worker.start()
    expected = THREADS * connections_per_thread()
    wait_for(
        lambda: len(backends_since(started)) >= expected,
        timeout=10,
        what=f"the worker's {THREADS} threads opened no connections before any task: {backends_since(started)}",
    )
    warm = backends_since(started)

    offset = worker.log_path.stat().st_size
    for round_ in range(1, 5):  # rounds of tasks one after another, spread over the pool's threads
        for projection in all_projections():
            catch_up_projection.apply_async((projection.name,), queue=worker.queue)
        sent = round_ * len(all_projections())
        wait_for(lambda sent=sent: succeeded(worker, offset) >= sent, timeout=20, what="the catch-ups did not all run")

    assert backends_since(started) == warm, "the threads did not keep the connections they opened at start-up"

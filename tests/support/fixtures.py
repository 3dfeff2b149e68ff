"""Fixtures for the fault and scale-out tests: live gunicorn nodes, extra workers, a staff token.

Imported by tests/e2e/conftest.py. Every process started here is stopped at teardown,
even when the test fails half-way, so no node outlives its test.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.api import ApiClient
from tests.support.beat import BeatProcess
from tests.support.gunicorn import GunicornProcess
from tests.support.processes import WorkerProcess


@pytest.fixture
def staff_token(staff_user: object) -> str:
    """A DRF token of a staff user (committed: the tests using it are transactional)."""
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=staff_user)
    return token.key


@pytest.fixture
def start_gunicorn(tmp_path: Path, celery_queue: str) -> Iterator[Callable[..., GunicornProcess]]:
    """Start gunicorn nodes on free ports: `start_gunicorn(workers=2)`; all are stopped at teardown."""
    nodes: list[GunicornProcess] = []

    def start(*, workers: int = 2, threads: int = 4) -> GunicornProcess:
        node = GunicornProcess(
            tmp_path / f"gunicorn-{len(nodes)}.log", queue=celery_queue, workers=workers, threads=threads
        )
        nodes.append(node)
        node.start()
        return node

    yield start
    for node in nodes:
        node.stop()


@pytest.fixture
def running_worker(celery_worker_process: WorkerProcess) -> Iterator[WorkerProcess]:
    """The session's Celery worker, alive at the start and again at the end of the test.

    Fault tests kill it; if one fails before restarting it, the next test must still
    find a worker, so it is brought back here at teardown too.
    """
    worker = celery_worker_process
    if worker.process is None or worker.process.poll() is not None:
        worker.start()
    yield worker
    if worker.process is None or worker.process.poll() is not None:
        worker.start()


@pytest.fixture
def start_extra_worker(tmp_path: Path, celery_queue: str) -> Iterator[Callable[[], WorkerProcess]]:
    """Start more Celery workers on this run's queue; all are stopped at teardown."""
    workers: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        worker = WorkerProcess(celery_queue, tmp_path / f"worker-extra-{len(workers)}.log")
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def beat(tmp_path: Path, celery_queue: str) -> Iterator[BeatProcess]:
    """A running `celery beat` (every second) for the test; stopped at teardown."""
    process = BeatProcess(tmp_path, queue=celery_queue, every_seconds=1.0)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def api_for() -> Iterator[Callable[..., ApiClient]]:
    """Make ApiClients (`api_for(node.url, token)`); their sessions are closed at teardown."""
    clients: list[ApiClient] = []

    def make(base_url: str, token: str | None = None) -> ApiClient:
        client = ApiClient(base_url, token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()

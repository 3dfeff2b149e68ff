"""Fixtures shared by the whole suite: service checks and a real Celery worker.

Tests that need PostgreSQL are marked `postgres` and skip on SQLite with the reason;
tests that need the worker are marked `worker` and skip without a broker (Redis or
RabbitMQ) and a Redis cache the worker shares with the test process. CI always runs
both kinds, the worker tests on both brokers (see .ci/run).
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parent.parent


def on_postgres() -> bool:
    return connections["default"].vendor == "postgresql"


BROKER_SCHEMES = ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")
NEEDS_BROKER = "needs a broker (Redis or RabbitMQ): set CELERY_BROKER_URL (CI does)"
NEEDS_REDIS_CACHE = (
    "needs Redis as the cache, shared by the worker and the tests: set REDIS_URL (a Redis CELERY_BROKER_URL "
    "implies it; with RabbitMQ set both, as CI does)"
)


def has_broker() -> bool:
    """A real broker (Redis or RabbitMQ) rather than eager tasks on the in-memory transport."""
    return settings.CELERY_BROKER_URL.startswith(BROKER_SCHEMES)


def has_redis_cache() -> bool:
    """The default cache is Redis (REDIS_URL, or a Redis broker's URL), so every process shares it.

    The worker tests need it whatever the broker: the projections' coalescing flags and a
    rebuild's progress are set in one process and cleared or read in another.
    """
    return settings.CACHES["default"]["BACKEND"].endswith(".RedisCache")


def worker_skip_reason() -> str | None:
    if not has_broker():
        return NEEDS_BROKER
    if not has_redis_cache():
        return NEEDS_REDIS_CACHE
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    worker_skip = worker_skip_reason()
    for item in items:
        if "postgres" in item.keywords and not on_postgres():
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI does)"))
        if "worker" in item.keywords and worker_skip:
            item.add_marker(pytest.mark.skip(reason=worker_skip))


def database_url(alias: str, *, user: str | None = None, password: str | None = None) -> str:
    """A URL for the *test* database behind `alias`, for processes the tests start (as another role if given)."""
    cfg = connections[alias].settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{cfg['NAME']}"
    if user is None:
        user, password = cfg.get("USER") or "", cfg.get("PASSWORD") or ""
    password = f":{password}" if password else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"


def runtime_role() -> str | None:
    """RUNTIME_DATABASE_USER on PostgreSQL: the role the processes the tests start connect as.

    The test runner itself stays the owner: pytest-django creates and migrates the test
    databases with it and empties them between tests (tests.purge). After migrating,
    `grant_runtime_role` gives the runtime role its privileges, and gunicorn, the Celery
    workers, beat and run_projector connect as that role, as in production; a grant the
    code needs and lacks fails their tests (CI runs the end-to-end tests this way).
    """
    name = os.environ.get("RUNTIME_DATABASE_USER", "")
    return name if name and on_postgres() else None


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """pytest-django's test databases, plus the runtime role's grants on them when RUNTIME_DATABASE_USER is set."""
    if role := runtime_role():
        from django.core.management import call_command

        with django_db_blocker.unblock():
            call_command("grant_runtime_role", role, verbosity=0)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a process that must use the tests' databases and broker (as the runtime role, if set)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1"}
    role = runtime_role()
    password = os.environ.get("RUNTIME_DATABASE_PASSWORD", "")
    env["DATABASE_URL"] = database_url("default", user=role, password=password)
    if "read" in settings.DATABASES:
        env["READ_DATABASE_URL"] = database_url("read", user=role, password=password)
    env.update(extra)
    return env


TEST_QUEUE = f"test-{uuid.uuid4().hex[:8]}"


def pytest_configure(config: pytest.Config) -> None:
    """Send every task of this run to a queue of its own, so no other worker takes them."""
    from config.celery_app import app

    app.conf.task_default_queue = TEST_QUEUE


def pytest_unconfigure(config: pytest.Config) -> None:
    """Delete this run's queue and its exchange, after every process using them has stopped.

    Celery declares them durable and not auto-delete, so on RabbitMQ every run would leave
    a queue and an exchange behind (on Redis, a binding key). Not auto-delete on purpose:
    a kill -9 of the worker must not take the queue and its unacked messages with it.
    """
    if not has_broker():
        return
    from kombu import Exchange, Queue

    from config.celery_app import app

    queue = Queue(TEST_QUEUE, Exchange(TEST_QUEUE, app.conf.task_default_exchange_type), routing_key=TEST_QUEUE)
    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)
            bound = queue(connection.default_channel)
            bound.declare()  # as Celery does; Redis's channel deletes only the bindings it knows
            bound.delete()
            bound.exchange.delete()
    except Exception as exc:  # cleanup only: never turn a finished run into an error
        print(f"\nwarning: could not delete the test queue {TEST_QUEUE}: {exc!r}", file=sys.stderr)


@pytest.fixture(scope="session")
def celery_queue() -> str:
    return TEST_QUEUE


class WorkerProcess:
    """A real `celery -A config worker` subprocess; `kill()` is a kill -9, `start()` starts it again."""

    def __init__(self, queue: str, log_path: Path) -> None:
        self.queue = queue
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0  # a restart appends
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                self.queue,
                "--pool=threads",
                "--concurrency=4",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{self.queue}-{uuid.uuid4().hex[:4]}@%h",
            ],
            cwd=ROOT,
            env=subprocess_env(CELERY_TASK_DEFAULT_QUEUE=self.queue),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_ready()

    def _wait_until_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{self.log_path.read_text()[-3000:]}")
            if b"ready." in self.log_path.read_bytes()[self._log_offset :]:
                return
            time.sleep(0.2)
        raise RuntimeError(f"celery worker not ready after {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: None, django_db_blocker: object, celery_queue: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One real worker for the session, consuming this run's queue against the test databases."""
    if reason := worker_skip_reason():
        pytest.skip(reason)
    worker = WorkerProcess(celery_queue, tmp_path_factory.mktemp("celery") / "worker.log")
    worker.start()
    yield worker
    worker.stop()


# Users and authenticated API clients -----------------------------------------------


def client_for(user: object | None) -> APIClient:
    """An APIClient that authenticates as `user` with a real DRF token (None: anonymous)."""
    from rest_framework.authtoken.models import Token

    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def staff_user(db: None) -> object:
    from tests.factories import StaffFactory

    return StaffFactory(username="staff")


@pytest.fixture
def customer_user(db: None) -> object:
    from tests.factories import UserFactory

    return UserFactory(username="alice")


@pytest.fixture
def other_customer(db: None) -> object:
    from tests.factories import UserFactory

    return UserFactory(username="bob")


@pytest.fixture
def staff_client(staff_user: object) -> APIClient:
    return client_for(staff_user)


@pytest.fixture
def customer_client(customer_user: object) -> APIClient:
    return client_for(customer_user)


@pytest.fixture
def other_client(other_customer: object) -> APIClient:
    return client_for(other_customer)


@pytest.fixture
def anon_client() -> APIClient:
    return client_for(None)

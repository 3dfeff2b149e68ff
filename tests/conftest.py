"""Fixtures shared by the whole suite: service checks and a real Celery worker.

Tests that need PostgreSQL are marked `postgres` and skip on SQLite with the reason;
tests that need the worker are marked `worker` and skip without a broker (Redis or
RabbitMQ) and a Redis cache the worker shares with the test process. CI always runs
both kinds, the worker tests on both brokers (see .ci/run).
"""

import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.support.api import client_for
from tests.support.processes import WorkerProcess, runtime_role
from tests.support.services import has_broker, on_postgres, worker_skip_reason


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    worker_skip = worker_skip_reason()
    for item in items:
        if "postgres" in item.keywords and not on_postgres():
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (CI does)"))
        if "worker" in item.keywords and worker_skip:
            item.add_marker(pytest.mark.skip(reason=worker_skip))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """pytest-django's test databases, plus the runtime role's grants on them when RUNTIME_DATABASE_USER is set."""
    if role := runtime_role():
        from django.core.management import call_command

        with django_db_blocker.unblock():
            call_command("grant_runtime_role", role, verbosity=0)


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

"""Fixtures for the event store's integration tests: the store alone, and raw connections.

The projection trigger is unhooked from the commit signal here: these tests prove the
log, and an eager catch-up of every registered projection after each of thousands of
appends would only slow them (and measure someone else's code).
"""

from collections.abc import Iterator

import psycopg
import pytest
from django.db import connections

from eventstore.projections.wakeups import request_catch_up
from eventstore.signals import events_committed
from tests.support.processes import database_url

TRIGGER_UID = "eventstore.request_catch_up"


@pytest.fixture(autouse=True)
def store_alone() -> Iterator[None]:
    events_committed.disconnect(dispatch_uid=TRIGGER_UID)
    try:
        yield
    finally:
        events_committed.connect(request_catch_up, dispatch_uid=TRIGGER_UID)


@pytest.fixture
def raw_pg() -> Iterator[psycopg.Connection]:
    """An autocommit psycopg connection to the test database, beside Django's."""
    if connections["default"].vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    with psycopg.connect(database_url("default"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def sqlite_only() -> None:
    """For the SQLite side of a rule PostgreSQL proves with its own tests."""
    if connections["default"].vendor != "sqlite":
        pytest.skip("SQLite only: the PostgreSQL triggers are proven from a raw connection")

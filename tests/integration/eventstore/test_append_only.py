"""The log is append-only for real: the model, its querysets and the database itself refuse changes.

The test settings let the test runner's own connections purge the table between
tests, so the database-level refusals are proven where that escape hatch is off: a
raw psycopg connection without the `eventstore.allow_purge` option on PostgreSQL,
and the `eventstore_allow_purge()` function answering 0 on SQLite.
"""

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from eventstore.errors import AppendOnlyViolation
from eventstore.log.append import NO_STREAM, StreamWrite, append, read_stream
from eventstore.models import Event
from orders_write.events import StockReceived

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = "Product-append-only"


@pytest.fixture
def recorded() -> Event:
    append(StreamWrite(STREAM, NO_STREAM, [StockReceived(product_id="append-only", quantity=3)]))
    return Event.objects.get(stream_id=STREAM)


def unchanged(event: Event) -> bool:
    [stored] = read_stream(STREAM)
    return stored.position == event.position and stored.data == {"product_id": "append-only", "quantity": 3}


def test_saving_a_recorded_event_again_is_refused(recorded: Event) -> None:
    recorded.data = {"product_id": "append-only", "quantity": 300}
    with pytest.raises(AppendOnlyViolation):
        recorded.save()
    assert unchanged(recorded)


def test_deleting_a_recorded_event_is_refused(recorded: Event) -> None:
    with pytest.raises(AppendOnlyViolation):
        recorded.delete()
    assert unchanged(recorded)


def test_queryset_update_and_delete_are_refused(recorded: Event) -> None:
    with pytest.raises(AppendOnlyViolation):
        Event.objects.filter(stream_id=STREAM).update(version=7)
    with pytest.raises(AppendOnlyViolation):
        Event.objects.filter(stream_id=STREAM).delete()
    with pytest.raises(AppendOnlyViolation):
        Event.objects.all().delete()
    assert unchanged(recorded)


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE eventstore_event SET version = 7",
        "DELETE FROM eventstore_event",
        "TRUNCATE eventstore_event",
        "TRUNCATE eventstore_event CASCADE",
    ],
)
def test_postgres_triggers_refuse_raw_update_delete_and_truncate(
    recorded: Event, raw_pg: psycopg.Connection, statement: str
) -> None:
    with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
        raw_pg.execute(statement)
    assert unchanged(recorded)


@pytest.mark.postgres
def test_postgres_triggers_cannot_be_bypassed_by_a_session_that_is_not_the_test_runner(
    recorded: Event, raw_pg: psycopg.Connection
) -> None:
    """Only the literal setting `on` opens the hatch; any other value keeps refusing."""
    with raw_pg.transaction():
        raw_pg.execute("SET LOCAL eventstore.allow_purge = 'yes'")
        with pytest.raises(psycopg.errors.RestrictViolation):
            raw_pg.execute("DELETE FROM eventstore_event")
    assert unchanged(recorded)


@pytest.mark.parametrize("statement", ["UPDATE eventstore_event SET version = 7", "DELETE FROM eventstore_event"])
def test_sqlite_triggers_refuse_raw_update_and_delete(
    recorded: Event, sqlite_purge_closed: None, statement: str
) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert unchanged(recorded)

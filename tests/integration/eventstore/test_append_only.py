"""The log is append-only for real: the model, its querysets and the database itself refuse changes.

The database refuses every session, with no setting that opens it: on PostgreSQL
even the owner's raw connection is refused until it disables the trigger (which the
runtime role cannot: tests/integration/eventstore/test_runtime_role.py).
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
@pytest.mark.parametrize("value", ["on", "yes", "true", "1"])
def test_postgres_triggers_have_no_setting_that_lets_a_session_through(
    recorded: Event, raw_pg: psycopg.Connection, value: str
) -> None:
    for scope in ("SESSION", "LOCAL"):
        with raw_pg.transaction():
            raw_pg.execute(f"SET {scope} eventstore.allow_purge = '{value}'")
            for statement in ("DELETE FROM eventstore_event", "UPDATE eventstore_event SET version = 7"):
                with pytest.raises(psycopg.errors.RestrictViolation), raw_pg.transaction():
                    raw_pg.execute(statement)
    assert unchanged(recorded)


@pytest.mark.parametrize("statement", ["UPDATE eventstore_event SET version = 7", "DELETE FROM eventstore_event"])
def test_sqlite_triggers_refuse_raw_update_and_delete(recorded: Event, sqlite_only: None, statement: str) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert unchanged(recorded)

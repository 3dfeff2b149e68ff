"""The test runner's flush (tests.purge) empties the log and leaves every refusing trigger in force."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from eventstore.errors import AppendOnlyViolation
from eventstore.log.append import NO_STREAM, StreamWrite, append
from eventstore.models import Event
from orders_write.events import StockReceived

pytestmark = pytest.mark.django_db(transaction=True)


def triggers() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname, tgenabled::text FROM pg_trigger WHERE NOT tgisinternal"
                " AND tgrelid IN ('eventstore_event'::regclass, 'eventstore_seal'::regclass) ORDER BY tgname"
            )
        else:
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        return cursor.fetchall()


def test_flush_empties_the_log_and_the_triggers_refuse_again_after_it() -> None:
    before = triggers()
    assert before
    if connection.vendor == "postgresql":
        assert all(state == "O" for _, state in before)  # enabled (origin)
    append(StreamWrite("Product-flush", NO_STREAM, [StockReceived(product_id="flush", quantity=1)]))
    call_command("flush", interactive=False, verbosity=0)
    assert Event.objects.count() == 0 and triggers() == before
    append(StreamWrite("Product-flush", NO_STREAM, [StockReceived(product_id="flush", quantity=1)]))
    refused = pytest.raises((AppendOnlyViolation, DatabaseError), match="append-only")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM eventstore_event")
    assert Event.objects.count() == 1

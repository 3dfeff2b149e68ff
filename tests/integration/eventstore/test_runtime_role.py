"""As the runtime role the app connects as, nothing rewrites the log or the seals, and no switch opens them.

The role comes from `grant_runtime_role` on the test databases: SELECT and INSERT on
the append-only tables, owner of nothing there. Every statement below is refused by
PostgreSQL itself (privileges or the triggers), and the log is unchanged after each.
"""

from collections.abc import Iterator

import psycopg
import pytest
from django.utils import timezone

from eventstore.log.append import NO_STREAM, StreamWrite, append, read_stream
from eventstore.models import Event, Seal
from orders_write.events import StockReceived
from tests.support.processes import database_url
from tests.support.roles import granted_runtime_role

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

STREAM = "Product-runtime-role"
REFUSED = (psycopg.errors.InsufficientPrivilege, psycopg.errors.RestrictViolation)


@pytest.fixture
def runtime() -> Iterator[psycopg.Connection]:
    """An autocommit connection to the log's test database as the runtime role, with one event and a seal."""
    append(StreamWrite(STREAM, NO_STREAM, [StockReceived(product_id="runtime", quantity=3)]))
    # A seal row of its own: seal_log() seals only what every open transaction of the cluster can see.
    Seal.objects.create(
        checkpoint_txid=0, checkpoint_position=0, sealed_at=timezone.now(), events_count=0, digest="0" * 64
    )
    with granted_runtime_role() as name, psycopg.connect(database_url("default", user=name), autocommit=True) as conn:
        yield conn


def log_unchanged() -> bool:
    [stored] = read_stream(STREAM)
    return (
        Event.objects.count() == 1
        and stored.data == {"product_id": "runtime", "quantity": 3}
        and Seal.objects.count() == 1
    )


@pytest.mark.parametrize("table", ["eventstore_event", "eventstore_seal"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET {key} = {key}",
        "DELETE FROM {table}",
        "TRUNCATE {table}",
        "TRUNCATE {table} CASCADE",
        "ALTER TABLE {table} DISABLE TRIGGER USER",
        "ALTER TABLE {table} DISABLE TRIGGER ALL",
        "ALTER TABLE {table} OWNER TO CURRENT_USER",
        "ALTER TABLE {table} ADD COLUMN note text",
        "DROP TABLE {table}",
        "DROP TABLE {table} CASCADE",
        "CREATE TRIGGER t BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
    ],
)
def test_the_runtime_role_cannot_change_or_unguard_the_log(
    runtime: psycopg.Connection, table: str, statement: str
) -> None:
    statement = statement.format(table=table, key="id" if table == "eventstore_seal" else "position")
    with pytest.raises(REFUSED):
        runtime.execute(statement)
    assert log_unchanged()


@pytest.mark.parametrize(
    "switch",
    [
        "SET session_replication_role = replica",
        "SET LOCAL session_replication_role = replica",
        "ALTER ROLE CURRENT_USER SET session_replication_role = replica",
        "DROP FUNCTION eventstore_refuse_change() CASCADE",
        "CREATE OR REPLACE FUNCTION eventstore_refuse_change() RETURNS trigger LANGUAGE sql AS 'SELECT NULL'",
    ],
)
def test_the_runtime_role_cannot_switch_the_triggers_off(runtime: psycopg.Connection, switch: str) -> None:
    with pytest.raises(REFUSED), runtime.transaction():
        runtime.execute(switch)
    assert log_unchanged()


@pytest.mark.parametrize("setting", ["eventstore.allow_purge", "eventstore.allow_update", "eventstore.bypass"])
def test_no_eventstore_setting_lets_the_runtime_role_delete_or_update(
    runtime: psycopg.Connection, setting: str
) -> None:
    for statement in ("DELETE FROM eventstore_event", "UPDATE eventstore_event SET version = version"):
        with pytest.raises(REFUSED), runtime.transaction():
            runtime.execute(f"SET LOCAL {setting} = 'on'")
            runtime.execute(statement)
    assert log_unchanged()


def test_the_runtime_role_reads_and_appends(runtime: psycopg.Connection) -> None:
    """What it needs: read the log, and append the next version (the database chains it)."""
    assert runtime.execute("SELECT count(*) FROM eventstore_event").fetchone() == (1,)
    runtime.execute(
        "INSERT INTO eventstore_event (event_id, stream_id, stream_type, version, event_type, schema_version,"
        " data, metadata, recorded_at, transaction_id)"
        " VALUES (gen_random_uuid(), %s, 'Product', 2, 'StockReceived', 1, '{}', '{}', now(), pg_current_xact_id())",
        [STREAM],
    )
    assert [e.version for e in read_stream(STREAM)] == [1, 2]

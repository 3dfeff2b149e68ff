"""Tamper evidence on both databases: every append path chains, seals chain, verify_log passes a clean log.

The tampering itself is proven on SQLite here (triggers dropped and re-created around it)
and on PostgreSQL in test_tamper_postgres.py (a superuser with triggers switched off).
"""

import json
import uuid
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from eventstore.errors import AppendOnlyViolation
from eventstore.log.append import ANY, NO_STREAM, NewEvent, StreamWrite, append, command_transaction
from eventstore.models import Event, Seal
from eventstore.tamper.canonical import event_hash
from eventstore.tamper.seals import seal_log
from orders_write.events import StockReceived
from tests.integration.eventstore.helpers import settle

pytestmark = pytest.mark.django_db(transaction=True)


def verify(*args: str) -> tuple[int, dict[str, Any]]:
    """verify_log --json: (exit code, report)."""
    settle()
    out = StringIO()
    try:
        call_command("verify_log", "--json", *args, stdout=out)
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, json.loads(out.getvalue())


def seal() -> Seal | None:
    settle()
    return seal_log()


def stored_rows() -> list[tuple[Any, ...]]:
    data = "data::text, metadata::text" if connection.vendor == "postgresql" else "data, metadata"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT stream_id, version, event_type, schema_version, {data}, recorded_at, hash"
            " FROM eventstore_event ORDER BY stream_id, version"
        )
        return cursor.fetchall()


def assert_every_hash_recomputes() -> int:
    """Each stored hash is the documented hash over its columns and its predecessor's hash."""
    parents: dict[str, str] = {}
    rows = stored_rows()
    for stream_id, version, event_type, schema_version, data, metadata, recorded_at, stored in rows:
        assert len(stored) == 64, (stream_id, version)
        expected = event_hash(
            parents.get(stream_id, ""), stream_id, version, event_type, schema_version, data, metadata, recorded_at
        )
        assert stored == expected, (stream_id, version)
        parents[stream_id] = stored
    return len(rows)


def received(n: int = 1) -> StockReceived:
    return StockReceived(product_id="chain", quantity=n)


def test_every_append_path_chains_each_event_to_its_streams_previous_one() -> None:
    append(StreamWrite("Product-a", NO_STREAM, [received(1)]))  # alone (one statement on PostgreSQL)
    append(  # several events of several streams in one statement
        StreamWrite("Product-a", 1, [received(2), received(3)]),
        StreamWrite("Product-b", NO_STREAM, [received(4), received(5), received(6)]),
        metadata={"user": "ann", "note": 'é ✓ \U0001f600 "quoted"\n'},
    )
    with command_transaction():  # inside a command's transaction
        append(
            StreamWrite(
                "Product-a",
                ANY,
                [NewEvent("Probed", {"nested": {"z": [1, {"b": None, "a": True}]}, "price": "19.99", "big": 2**62})],
            )
        )
    Event.objects.create(  # the ORM, as the admin or a script would
        event_id=uuid.uuid4(),
        stream_id="Product-b",
        stream_type="Product",
        version=4,
        event_type="Probed",
        data={"x": [1.5, 2]},
        metadata={},
        recorded_at=timezone.now(),
    )
    assert assert_every_hash_recomputes() == 8
    first = Event.objects.get(stream_id="Product-a", version=1)
    assert (
        event_hash("", "Product-a", 1, first.event_type, 1, json.dumps(first.data), "{}", first.recorded_at)
        == first.hash
    )


def test_an_event_without_its_predecessor_is_refused() -> None:
    append(StreamWrite("Product-gap", NO_STREAM, [received()]))
    with pytest.raises(DatabaseError), transaction.atomic():
        Event.objects.create(
            event_id=uuid.uuid4(),
            stream_id="Product-gap",
            stream_type="Product",
            version=3,
            event_type="Probed",
            data={},
            metadata={},
            recorded_at=timezone.now(),
        )


def test_verify_log_passes_a_clean_log_and_counts_what_it_checked() -> None:
    assert verify() == (
        0,
        {"ok": True, "events_checked": 0, "streams_checked": 0, "seals_checked": 0, "first_failure": None},
    )
    for n in range(3):
        append(StreamWrite(f"Product-v{n}", NO_STREAM, [received()] * (n + 1)))
    seal()
    append(StreamWrite("Product-v0", 1, [received()]))
    assert verify() == (
        0,
        {"ok": True, "events_checked": 7, "streams_checked": 3, "seals_checked": 1, "first_failure": None},
    )
    assert verify("--stream", "Product-v2") == (
        0,
        {"ok": True, "events_checked": 3, "streams_checked": 1, "seals_checked": 1, "first_failure": None},
    )


def test_verify_log_prints_a_plain_summary_without_json() -> None:
    append(StreamWrite("Product-plain", NO_STREAM, [received()] * 2))
    settle()
    out = StringIO()
    call_command("verify_log", stdout=out)
    assert out.getvalue().startswith("OK: 2 events in 1 streams, 0 seals")


def test_each_seal_covers_what_is_new_and_chains_to_the_previous_one() -> None:
    assert seal() is None  # an empty log: nothing to seal
    append(StreamWrite("Product-s1", NO_STREAM, [received()] * 3))
    append(StreamWrite("Product-s2", NO_STREAM, [received()]))
    first = seal()
    assert first is not None and first.events_count == 4 and first.previous_digest == ""
    assert first.heads == {
        "Product-s1": [3, Event.objects.get(stream_id="Product-s1", version=3).hash],
        "Product-s2": [1, Event.objects.get(stream_id="Product-s2", version=1).hash],
    }
    assert seal() is None  # the log has not grown
    append(StreamWrite("Product-s2", 1, [received()] * 2))
    second = seal()
    assert second is not None and second.events_count == 2 and second.previous_digest == first.digest
    assert set(second.heads) == {"Product-s2"} and second.checkpoint > first.checkpoint
    out = StringIO()
    call_command("seal_log", stdout=out)
    assert "Nothing new to seal" in out.getvalue() and f"seal #{second.id}" in out.getvalue()


def test_seal_log_command_prints_the_seal() -> None:
    append(StreamWrite("Product-cmd", NO_STREAM, [received()]))
    settle()
    out = StringIO()
    call_command("seal_log", stdout=out)
    seal_row = Seal.objects.get()
    assert f"Sealed: seal #{seal_row.id}" in out.getvalue() and seal_row.digest in out.getvalue()


def test_seals_are_append_only_in_the_model() -> None:
    append(StreamWrite("Product-imm", NO_STREAM, [received()]))
    recorded = seal()
    assert recorded is not None
    with pytest.raises(AppendOnlyViolation):
        recorded.save()
    with pytest.raises(AppendOnlyViolation):
        recorded.delete()
    with pytest.raises(AppendOnlyViolation):
        Seal.objects.update(events_count=0)
    with pytest.raises(AppendOnlyViolation):
        Seal.objects.all().delete()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE eventstore_seal SET digest = 'x'",
        "DELETE FROM eventstore_seal",
        "UPDATE eventstore_event SET hash = 'x'",
        "UPDATE eventstore_event SET data = '{}'",
    ],
)
def test_sqlite_refuses_changing_seals_and_hashes(sqlite_only: None, statement: str) -> None:
    append(StreamWrite("Product-sq", NO_STREAM, [received()]))
    seal()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)


def test_sqlite_refuses_an_event_that_brings_its_own_hash(sqlite_only: None) -> None:
    with (
        pytest.raises(DatabaseError, match="computed by the database"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO eventstore_event (event_id, stream_id, stream_type, version, event_type, schema_version,"
            " data, metadata, recorded_at, transaction_id, hash) VALUES (%s, 'Product-f', 'Product', 1, 'X', 1,"
            " '{}', '{}', '2026-01-01 00:00:00', 0, %s)",
            [uuid.uuid4().hex, "f" * 64],
        )


def sqlite_tamper(sql: str, params: list[Any]) -> None:
    """As whoever holds the file could: drop the refusing triggers, change, re-create them, in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'eventstore_event_no_%'"
        )
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f"DROP TRIGGER {name}")
        cursor.execute(sql, params)
        for _, definition in triggers:
            cursor.execute(definition)


def test_sqlite_verify_log_names_a_changed_event_and_a_cut_tail() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL is proven in test_tamper_postgres.py")
    append(StreamWrite("Product-t1", NO_STREAM, [received(n) for n in range(1, 4)]))
    append(StreamWrite("Product-t2", NO_STREAM, [received(n) for n in range(1, 3)]))
    seal()
    assert verify()[0] == 0
    [(original,)] = (
        connection.cursor()
        .execute("SELECT data FROM eventstore_event WHERE stream_id = 'Product-t1' AND version = 2")
        .fetchall()
    )
    sqlite_tamper(
        "UPDATE eventstore_event SET data = %s WHERE stream_id = 'Product-t1' AND version = 2",
        ['{"product_id": "chain", "quantity": 200}'],
    )
    code, report = verify()
    assert code == 1 and report["first_failure"]["stream_id"] == "Product-t1"
    assert (report["first_failure"]["version"], report["first_failure"]["reason"]) == (2, "changed")
    sqlite_tamper("UPDATE eventstore_event SET data = %s WHERE stream_id = 'Product-t1' AND version = 2", [original])
    assert verify()[0] == 0

    sqlite_tamper("DELETE FROM eventstore_event WHERE stream_id = 'Product-t2' AND version = 2", [])
    code, report = verify()
    assert code == 1 and report["first_failure"]["stream_id"] == "Product-t2"
    assert (report["first_failure"]["version"], report["first_failure"]["reason"]) == (2, "removed")
    assert verify("--stream", "Product-t2")[1]["first_failure"]["reason"] == "removed"
    assert verify("--stream", "Product-t1")[0] == 0

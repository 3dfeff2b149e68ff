"""The migration that moved hashes to jsonb's text: every hash recomputed, seals cleared, triggers back on."""

import importlib
from io import StringIO

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from eventstore.log.append import NO_STREAM, StreamWrite, append
from eventstore.models import Seal
from orders_write.events import StockReceived
from tests.integration.eventstore.test_tamper_evidence import assert_every_hash_recomputes, seal, stored_rows, verify
from tests.support.processes import database_url

pytestmark = pytest.mark.django_db(transaction=True)

rehash_log = importlib.import_module("eventstore.migrations.0005_hash_over_jsonb_text").rehash_log


def a_sealed_log() -> list[tuple]:
    for name in ("Product-a", "Product-b"):
        append(StreamWrite(name, NO_STREAM, [StockReceived(product_id=name, quantity=n) for n in (1, 2, 3)]))
    assert seal() is not None
    return stored_rows()


def test_an_intact_log_keeps_its_hashes_and_loses_only_its_seals() -> None:
    before = a_sealed_log()
    out = StringIO()
    with transaction.atomic():
        assert rehash_log(connection, out=out) == 6
    assert stored_rows() == before
    assert "hashed 6/6 events" in out.getvalue()
    assert not Seal.objects.exists()
    assert verify()[0] == 0


@pytest.mark.postgres
def test_every_hash_is_recomputed_in_the_current_form_and_the_log_stays_append_only() -> None:
    before = a_sealed_log()
    with psycopg.connect(database_url("default"), autocommit=True) as superuser:
        superuser.execute("SET session_replication_role = replica")
        superuser.execute("UPDATE eventstore_event SET hash = md5(hash) || md5(position::text)")
    assert verify()[0] == 1
    with transaction.atomic():
        rehash_log(connection, out=StringIO())
    assert stored_rows() == before
    assert assert_every_hash_recomputes() == 6
    assert verify()[0] == 0
    assert seal() is not None
    with psycopg.connect(database_url("default"), autocommit=True) as raw:
        for statement in ("UPDATE eventstore_event SET hash = ''", "DELETE FROM eventstore_seal"):
            with pytest.raises(psycopg.errors.RestrictViolation, match="append-only"):
                raw.execute(statement)


def test_sqlite_triggers_are_recreated_as_they_were() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only: PostgreSQL's triggers are disabled and enabled, proven above")
    a_sealed_log()
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        triggers = cursor.fetchall()
    with transaction.atomic():
        rehash_log(connection, out=StringIO())
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        assert cursor.fetchall() == triggers
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE eventstore_event SET hash = 'x'")

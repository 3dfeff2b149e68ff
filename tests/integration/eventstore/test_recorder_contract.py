"""The recorder contract: both backends answer every protocol method alike, in the same pass.

Each test runs once per backend. The backend of the suite's own database uses the
`default` alias; SQLite is always available, so on a PostgreSQL pass it runs too, on a
SQLite database of its own (migrated once, copied per test). PostgreSQL needs a server:
on a SQLite pass its half is skipped (CI's PostgreSQL pass runs both halves).
"""

import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import call_command
from django.db import IntegrityError, connections, transaction
from django.db.utils import load_backend
from django.test import override_settings

from eventstore.backends import recorder_for
from eventstore.backends.recorder import EVENT_COLUMNS, Backend, StreamRows
from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.log.read import wait_until_readable
from eventstore.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

SQLITE_ALIAS = "contract_sqlite"
BACKENDS = ("sqlite", "postgresql")


def _sqlite_settings(path: Path) -> dict[str, Any]:
    """As config/settings/base.py configures SQLite: IMMEDIATE transactions serialize writers."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 30, "init_command": "PRAGMA journal_mode=WAL;"},
    }


def _add_alias(alias: str, path: Path) -> None:
    """A connection under `alias` that is not one of the configured databases.

    Django's test cases refuse connections to configured databases a test did not
    declare, and would flush every declared one; a connection set on the handler
    directly is neither, so the suite's own databases stay as pytest-django set them up.
    """
    configured = connections.configure_settings(
        {"default": dict(connections.settings["default"]), alias: _sqlite_settings(path)}
    )[alias]
    connections[alias] = load_backend(configured["ENGINE"]).DatabaseWrapper(configured, alias)


def _drop_alias(alias: str) -> None:
    connections[alias].close()
    del connections[alias]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory, django_db_setup: None, django_db_blocker: Any) -> Path:
    """A migrated SQLite database (every app, routers off: it stands alone), copied for each test."""
    path = tmp_path_factory.mktemp("contract") / "template.sqlite3"
    with django_db_blocker.unblock(), override_settings(DATABASE_ROUTERS=[]):
        _add_alias(SQLITE_ALIAS, path)
        try:
            call_command("migrate", database=SQLITE_ALIAS, verbosity=0, interactive=False)
        finally:
            _drop_alias(SQLITE_ALIAS)
    return path


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The alias of a database of the parametrised backend, empty."""
    wanted = request.param
    if connections["default"].vendor == wanted:
        yield "default"
        return
    if wanted == "postgresql":
        pytest.skip("the PostgreSQL half needs DATABASE_URL to name a PostgreSQL database (CI's PostgreSQL pass)")
    template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "contract.sqlite3"
    shutil.copyfile(template, path)
    _add_alias(SQLITE_ALIAS, path)
    try:
        yield SQLITE_ALIAS
    finally:
        _drop_alias(SQLITE_ALIAS)


@pytest.fixture
def rec(db: str) -> Backend:
    return recorder_for(db)


def stream(stream_id: str, expected: int, *types: str, data: dict[str, Any] | None = None) -> StreamRows:
    payload = orjson.dumps(data or {"n": 1}).decode()
    rows = [(str(uuid.uuid4()), event_type, 1, payload, '{"by": "contract"}') for event_type in types]
    return StreamRows(stream_id, stream_id.split("-", 1)[0], expected, rows)


def as_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(EVENT_COLUMNS, row, strict=True))
    for key in ("data", "metadata"):
        if not isinstance(record[key], dict):
            record[key] = orjson.loads(record[key])
    return record


# Appending ---------------------------------------------------------------------------


def test_an_insert_numbers_each_stream_on_from_its_version_and_returns_the_last_checkpoint(rec: Backend, db: str):
    first = rec.insert_events([stream("Order-1", 0, "A", "B"), stream("Product-1", -1, "C")], using=db)
    assert first.actual_versions == [0, 0]
    assert first.checkpoint is not None and first.checkpoint > ORIGIN
    second = rec.insert_events([stream("Order-1", 2, "D")], using=db)
    assert second.actual_versions == [2]
    assert second.checkpoint > first.checkpoint
    rows = [as_dict(r) for r in rec.select_stream("Order-1", 0, using=db)]
    assert [(r["version"], r["event_type"], r["stream_type"]) for r in rows] == [
        (1, "A", "Order"),
        (2, "B", "Order"),
        (3, "D", "Order"),
    ]
    assert rows[0]["data"] == {"n": 1} and rows[0]["metadata"] == {"by": "contract"}
    assert rec.stream_versions(["Order-1", "Product-1", "Order-404"], using=db) == {"Order-1": 3, "Product-1": 1}


def test_a_stream_off_its_expected_version_refuses_the_whole_insert(rec: Backend, db: str):
    rec.insert_events([stream("Order-1", 0, "A")], using=db)
    refused = rec.insert_events([stream("Product-1", 0, "B"), stream("Order-1", 0, "C")], using=db)
    assert refused.checkpoint is None
    assert refused.actual_versions == [0, 1]
    assert rec.stream_versions(["Order-1", "Product-1"], using=db) == {"Order-1": 1}


def test_only_a_lost_race_on_a_stream_version_is_a_write_conflict(rec: Backend, db: str):
    rec.insert_events([stream("Order-1", 0, "A")], using=db)
    original = Event.objects.using(db).get(stream_id="Order-1")
    twin = {
        "stream_id": "Order-1",
        "stream_type": "Order",
        "event_type": "A",
        "data": {},
        "recorded_at": datetime.now(UTC),
    }
    with pytest.raises(IntegrityError) as same_version, transaction.atomic(using=db):
        Event.objects.using(db).create(event_id=uuid.uuid4(), version=1, **twin)
    with pytest.raises(IntegrityError) as same_position, transaction.atomic(using=db):
        Event.objects.using(db).create(position=original.position, event_id=uuid.uuid4(), version=2, **twin)
    assert rec.is_write_conflict(same_version.value)
    assert not rec.is_write_conflict(same_position.value)


def test_the_command_isolation_yields_a_restore_that_may_run_twice(rec: Backend, db: str):
    with rec.command_isolation(using=db) as restore, transaction.atomic(using=db):
        rec.insert_events([stream("Order-1", 0, "A")], using=db)
        restore()
    restore()
    assert rec.stream_versions(["Order-1"], using=db) == {"Order-1": 1}


# Reading -----------------------------------------------------------------------------


def test_the_tail_is_in_log_order_after_a_checkpoint_with_a_limit_and_a_type_filter(rec: Backend, db: str):
    one = rec.insert_events([stream("Order-1", 0, "A", "B")], using=db).checkpoint
    two = rec.insert_events([stream("Order-2", 0, "A", "C")], using=db).checkpoint
    assert wait_until_readable(two, timeout=30, using=db)  # an older transaction of the cluster may hold it back
    everything = [as_dict(r) for r in rec.select_tail(ORIGIN, 100, None, using=db)]
    assert [(r["stream_id"], r["version"]) for r in everything] == [
        ("Order-1", 1),
        ("Order-1", 2),
        ("Order-2", 1),
        ("Order-2", 2),
    ]
    checkpoints = [Checkpoint(int(r["transaction_id"]), r["position"]) for r in everything]
    assert checkpoints == sorted(checkpoints) and checkpoints[1] == one and checkpoints[-1] == two
    after_one = rec.select_tail(one, 1, None, using=db)
    assert [as_dict(r)["stream_id"] for r in after_one] == ["Order-2"]
    typed = rec.select_tail(ORIGIN, 100, ["A"], using=db)
    assert [as_dict(r)["event_type"] for r in typed] == ["A", "A"]
    assert rec.head(using=db) == two
    assert rec.count_after(one, using=db) == 2 and rec.count_after(two, using=db) == 0
    assert rec.count_of_types(["A", "C"], using=db) == 3


def test_head_and_first_recorded_after_on_an_empty_log(rec: Backend, db: str):
    assert rec.head(using=db) is None
    assert rec.first_recorded_after(ORIGIN, using=db) is None
    assert rec.select_tail(ORIGIN, 10, None, using=db) == []


def test_first_recorded_after_is_an_aware_utc_time(rec: Backend, db: str):
    before = datetime.now(UTC)
    rec.insert_events([stream("Order-1", 0, "A")], using=db)
    first = rec.first_recorded_after(ORIGIN, using=db)
    assert first is not None and first.utcoffset() is not None
    assert abs((first - before).total_seconds()) < 60


def test_a_checkpoint_is_recorded_only_as_it_was_given(rec: Backend, db: str):
    checkpoint = rec.insert_events([stream("Order-1", 0, "A")], using=db).checkpoint
    assert rec.is_recorded(checkpoint, using=db)
    assert not rec.is_recorded(Checkpoint(checkpoint.txid + 1, checkpoint.position), using=db)
    assert not rec.is_recorded(Checkpoint(checkpoint.txid, checkpoint.position + 1), using=db)


def test_a_checkpoint_not_recorded_yet_is_found_once_it_is(rec: Backend, db: str):
    """A token asked before its event is visible (or made up) is asked again, never remembered as missing."""
    first = rec.insert_events([stream("Order-1", 0, "A")], using=db).checkpoint
    assert rec.is_recorded(first, using=db) and rec.is_recorded(first, using=db)
    nxt = rec.insert_events([stream("Order-2", 0, "A")], using=db).checkpoint
    assert not rec.is_recorded(Checkpoint(nxt.txid, nxt.position + 1), using=db)
    later = rec.insert_events([stream("Order-3", 0, "A")], using=db).checkpoint
    assert later.position == nxt.position + 1  # the position asked for above, now recorded
    assert rec.is_recorded(later, using=db)


def test_counts_and_distinct_values_for_the_admin(rec: Backend, db: str):
    rec.insert_events([stream("Order-1", 0, "B", "A"), stream("Product-1", 0, "A")], using=db)
    assert rec.distinct_values("event_type", using=db) == ["A", "B"]
    estimate = rec.estimated_count(using=db)
    assert estimate is None or estimate >= 0


# Aggregates --------------------------------------------------------------------------


def test_aggregates_load_as_their_snapshot_then_the_events_after_it(rec: Backend, db: str):
    rec.insert_events([stream("Order-1", 0, "A", "B", "C"), stream("Order-2", 0, "A")], using=db)
    rec.upsert_snapshot("Order-1", 2, 1, '{"lines": 2}', datetime.now(UTC), using=db)
    rec.upsert_snapshot("Order-1", 1, 1, '{"lines": 1}', datetime.now(UTC), using=db)  # older: ignored
    rows = rec.select_aggregates(1, ["Order-1", "Order-2"], using=db)
    shaped = [row[:4] for row in rows]
    assert shaped == [("Order-1", 2, None, None), ("Order-1", 3, "C", 1), ("Order-2", 1, "A", 1)]
    payloads = [row[4] if isinstance(row[4], dict) else orjson.loads(row[4]) for row in rows]
    assert payloads[0] == {"lines": 2}  # the snapshot's state
    assert payloads[1] == {"n": 1}  # the event's data
    other_schema = rec.select_aggregates(2, ["Order-1"], using=db)
    assert [row[1:3] for row in other_schema] == [(1, "A"), (2, "B"), (3, "C")]


# Views and rebuilds ------------------------------------------------------------------


@pytest.fixture
def scratch(db: str) -> Iterator[str]:
    """A view-shaped table of the test's own, with a secondary index."""
    table = f"contract_{uuid.uuid4().hex[:8]}"
    with connections[db].cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} (k varchar(20) PRIMARY KEY, n integer NOT NULL)")
        cursor.execute(f"CREATE INDEX {table}_n ON {table} (n)")
    yield table
    with connections[db].cursor() as cursor:
        for name in (table, f"{table}__shadow", f"{table}__old"):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")


def test_views_are_written_and_read_back_by_key(rec: Backend, db: str, scratch: str):
    with transaction.atomic(using=db):
        rec.insert_rows(scratch, "k, n", [("a", 1), ("b", 2)], using=db)
    many = [(f"k{i}", i) for i in range(600)]  # past PostgreSQL's COPY threshold too
    with transaction.atomic(using=db):
        rec.upsert_rows(
            scratch,
            "k, n",
            [("a", 10), ("c", 3)],
            f" ON CONFLICT (k) DO UPDATE SET n = {scratch}.n + EXCLUDED.n",
            using=db,
        )
        rec.upsert_rows(scratch, "k, n", many, " ON CONFLICT (k) DO UPDATE SET n = EXCLUDED.n", using=db)
        rec.commit_without_flush(using=db)
    assert sorted(rec.fetch_keyed(scratch, ["k", "n"], "k", ["a", "b", "c", "k599", "zz"], using=db)) == [
        ("a", 11),
        ("b", 2),
        ("c", 3),
        ("k599", 599),
    ]


def test_a_shadow_copy_is_filled_and_swapped_in_keeping_the_index_names(rec: Backend, db: str, scratch: str):
    def indexes(table: str) -> set[str]:
        with connections[db].cursor() as cursor:
            return set(connections[db].introspection.get_constraints(cursor, table))

    live_indexes = indexes(scratch)
    shadow = f"{scratch}__shadow"
    rec.create_shadow(scratch, shadow, using=db)
    deferred = rec.defer_indexes(shadow, using=db)
    rec.insert_rows(shadow, "k, n", [("new", 7)], using=db)
    rec.build_indexes(deferred, using=db)
    with transaction.atomic(using=db):
        rec.set_lock_timeout(1000, using=db)
        rec.swap(scratch, shadow, f"{scratch}__old", using=db)
    assert rec.fetch_keyed(scratch, ["k", "n"], "k", ["new"], using=db) == [("new", 7)]
    assert indexes(scratch) == live_indexes


def test_an_exclusive_block_is_entered_and_left(rec: Backend, db: str):
    with rec.exclusive(4242, using=db) as acquired:
        assert acquired
    with rec.exclusive(4242, using=db) as again:
        assert again


def test_lean_rows_where_the_backend_prefetches(rec: Backend, db: str):
    checkpoint = rec.insert_events([stream("Order-1", 0, "A", "B", data={"x": "é"})], using=db).checkpoint
    if not rec.prefetches:
        with pytest.raises(NotImplementedError):
            rec.select_lean_tail(ORIGIN, 10, ["A"], using=db)
        return
    assert wait_until_readable(checkpoint, timeout=30, using=db)
    rec.prepare_reader(using=db)
    rows = rec.select_lean_tail(ORIGIN, 10, ["B"], using=db)
    assert len(rows) == 1
    position, txid, stream_id, _, version, event_type, _, payload, recorded_at = rows[0]
    assert (Checkpoint(txid, position), stream_id, version, event_type) == (checkpoint, "Order-1", 2, "B")
    assert orjson.loads(payload) == {"x": "é"} and recorded_at.utcoffset().total_seconds() == 0


# Wake-ups and tamper evidence ----------------------------------------------------------


def test_listeners_hear_a_notify_where_the_backend_listens(rec: Backend, db: str):
    if not rec.listens:
        rec.notify("contract_channel", using=db)  # nobody to tell: a no-op
        with pytest.raises(NotImplementedError):
            rec.listener("contract_channel", using=db)
        return
    listener = rec.listener("contract_channel", using=db)
    try:
        assert listener.backend_pid is not None
        assert not listener.wait(0.01)
        rec.notify("contract_channel", using=db)
        rec.notify("contract_channel", using=db)
        time.sleep(0.3)  # both delivered before the listener looks: the burst it finds is one wake-up
        assert listener.wait(5)
        assert not listener.wait(0.01)  # the second was drained with the first
    finally:
        listener.close()
    assert listener.closed


def test_the_log_as_stored_for_hashing(rec: Backend, db: str):
    checkpoint = rec.insert_events([stream("Order-1", 0, "A", "B")], using=db).checkpoint
    full = rec.select_stored_range(ORIGIN, checkpoint, 10, full=True, using=db)
    hashes = rec.select_stored_range(ORIGIN, checkpoint, 1, full=False, using=db)
    by_stream = rec.select_stored_stream("Order-1", 1, 10, using=db)
    assert [(r[2], r[3], r[4]) for r in full] == [("Order-1", 1, "A"), ("Order-1", 2, "B")]
    assert isinstance(full[0][6], str) and orjson.loads(full[0][6]) == {"n": 1}
    assert full[0][8].endswith("Z") and len(full[0][9]) == 64  # canonical UTC text; the trigger's hash
    assert [(r[2], r[3], r[4]) for r in hashes] == [("Order-1", 1, full[0][9])]
    assert [r[3] for r in by_stream] == [2]
    assert rec.select_seals(0, 10, using=db) == []
    assert rec.select_sealed_heads("Order-1", using=db) == []
    with transaction.atomic(using=db):
        rec.lock_seals(using=db)

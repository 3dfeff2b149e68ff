"""PostgreSQL specifics of the log: NOTIFY, timeouts, isolation, and DESIGN.md's measured tail traps."""

import json
import random
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.core.cache import cache
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from eventstore.log.append import NO_STREAM, StreamWrite, append, command_transaction, read_all, wait_until_readable
from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.projections import wakeups
from orders_write.events import StockReceived
from tests.integration.eventstore.helpers import settle
from tests.support.processes import database_url
from tests.support.services import has_redis_cache

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def received(sku: str = "mug") -> StockReceived:
    return StockReceived(product_id=sku, quantity=1)


@pytest.fixture(autouse=True)
def a_listener_announced() -> Iterator[None]:
    """The tests here LISTEN as `run_projector` does, so they announce themselves as it does."""
    wakeups.announce_listener()
    wakeups.reset_notify_window()
    yield
    cache.delete(wakeups.LISTENER_KEY)
    wakeups.reset_notify_window()


@pytest.mark.skipif(not has_redis_cache(), reason="needs Redis as the cache: a Redis REDIS_URL or CELERY_BROKER_URL")
def test_appends_send_no_notify_while_no_listener_has_announced_itself(raw_pg: psycopg.Connection, settings) -> None:
    settings.EVENTSTORE_NOTIFY_COALESCE_MS = 0
    raw_pg.execute(f"LISTEN {settings.EVENTSTORE_NOTIFY_CHANNEL}")  # listening, but not announced
    cache.delete(wakeups.LISTENER_KEY)
    wakeups.reset_notify_window()
    append(StreamWrite("Product-unheard", NO_STREAM, [received()]))
    assert list(raw_pg.notifies(timeout=0.3)) == []

    wakeups.announce_listener()
    wakeups.reset_notify_window()  # what NO_LISTENER_MEMO_SECONDS would do
    append(StreamWrite("Product-unheard", 1, [received()]))
    assert len(list(raw_pg.notifies(timeout=10, stop_after=1))) == 1


def test_an_append_notifies_listeners_on_commit_and_a_refused_one_does_not(
    raw_pg: psycopg.Connection, settings
) -> None:
    settings.EVENTSTORE_NOTIFY_COALESCE_MS = 0  # one notification per append, to count them
    raw_pg.execute(f"LISTEN {settings.EVENTSTORE_NOTIFY_CHANNEL}")
    with command_transaction():
        append(StreamWrite("Product-notify", NO_STREAM, [received()]))
        assert list(raw_pg.notifies(timeout=0.2)) == []  # nothing to read before the commit
    heard = list(raw_pg.notifies(timeout=10, stop_after=1))
    assert [n.channel for n in heard] == [settings.EVENTSTORE_NOTIFY_CHANNEL]

    with pytest.raises(Exception), command_transaction():  # noqa: B017 - any failure rolls back
        append(StreamWrite("Product-notify-2", NO_STREAM, [received()]))
        raise RuntimeError
    append(StreamWrite("Product-notify-3", NO_STREAM, [received()]))  # a marker: the next notification
    heard = list(raw_pg.notifies(timeout=10, stop_after=1))
    assert len(heard) == 1
    assert list(raw_pg.notifies(timeout=0.2)) == []  # the rolled-back append sent nothing


def test_notify_can_be_switched_off_for_celery_only_deployments(raw_pg: psycopg.Connection, settings) -> None:
    settings.EVENTSTORE_NOTIFY_COALESCE_MS = 0
    raw_pg.execute(f"LISTEN {settings.EVENTSTORE_NOTIFY_CHANNEL}")
    settings.EVENTSTORE_NOTIFY = False
    append(StreamWrite("Product-quiet", NO_STREAM, [received()]))
    assert list(raw_pg.notifies(timeout=0.3)) == []
    settings.EVENTSTORE_NOTIFY = True
    append(StreamWrite("Product-quiet", 1, [received()]))
    assert len(list(raw_pg.notifies(timeout=10, stop_after=1))) == 1


def test_a_burst_of_appends_sends_one_notification_per_window(raw_pg: psycopg.Connection, settings) -> None:
    settings.EVENTSTORE_NOTIFY_COALESCE_MS = 60_000  # the whole burst falls in one window
    raw_pg.execute(f"LISTEN {settings.EVENTSTORE_NOTIFY_CHANNEL}")
    wakeups.reset_notify_window()
    for version in range(5):
        append(StreamWrite("Product-burst", version, [received()]))
    assert len(list(raw_pg.notifies(timeout=10, stop_after=1))) == 1
    assert list(raw_pg.notifies(timeout=0.3)) == []  # the other four were folded into it
    settings.EVENTSTORE_NOTIFY_COALESCE_MS = 0
    append(StreamWrite("Product-burst", 5, [received()]))  # a new window: notified again
    assert len(list(raw_pg.notifies(timeout=10, stop_after=1))) == 1


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("alias", ["default", "read"])
def test_connections_carry_statement_and_idle_in_transaction_timeouts(alias: str) -> None:
    if alias not in connections:
        pytest.skip("no separate read database configured")
    with connections[alias].cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        statement_timeout = cursor.fetchone()[0]
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        idle_timeout = cursor.fetchone()[0]
    assert statement_timeout not in ("0", "")
    assert idle_timeout not in ("0", "")


def test_a_transaction_holding_an_xid_in_another_database_holds_the_tail_back() -> None:
    """DESIGN.md's second trap: xmin is cluster-wide, so the tail waits for every open writer."""
    other_db = urlunsplit(urlsplit(database_url("default"))._replace(path="/postgres"))
    with psycopg.connect(other_db, autocommit=True) as other:
        with other.transaction():
            other.execute("SELECT pg_current_xact_id()")  # holds an xid, in another database
            result = append(StreamWrite("Product-held", NO_STREAM, [received()]))
            assert not wait_until_readable(result.checkpoint, timeout=0)
            assert [e for e in read_all() if e.stream_id == "Product-held"] == []
        assert wait_until_readable(result.checkpoint, timeout=60)
    assert [e.checkpoint for e in read_all() if e.stream_id == "Product-held"] == [result.checkpoint]


def isolation() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW transaction_isolation")
        return cursor.fetchone()[0]


def test_command_transactions_run_at_repeatable_read_and_leave_the_connection_as_it_was() -> None:
    seen_by_commit_hook: list[str] = []

    def after_commit() -> None:
        with transaction.atomic():
            seen_by_commit_hook.append(isolation())

    with command_transaction():
        assert isolation() == "repeatable read"
        transaction.on_commit(after_commit)
        append(StreamWrite("Product-isolation", NO_STREAM, [received()]))
    # Hooks (eager projection catch-up) and later transactions get the usual level back.
    assert seen_by_commit_hook == ["read committed"]
    with transaction.atomic():
        assert isolation() == "read committed"


def insert_with_txid(cursor: object, txid: int, stream: str, version: int) -> None:
    cursor.execute(
        "INSERT INTO eventstore_event (event_id, stream_id, stream_type, version, event_type, schema_version,"
        " data, metadata, recorded_at, transaction_id)"
        " VALUES (%s, %s, 'Probe', %s, 'Probed', 1, %s::jsonb, '{}'::jsonb, now(), %s::xid8)",
        [str(uuid.uuid4()), stream, version, json.dumps({"txid": txid}), str(txid)],
    )


def test_the_tail_stays_in_order_when_transaction_ids_cross_a_power_of_ten() -> None:
    """Ordered as text, 10 < 100 < 1000 < 11 < 9: the xid must be compared as a number.

    Rows get explicit transaction ids below the cluster's current one (read_all only
    returns ids older than every running transaction), inserted in shuffled order so
    the position order differs from the transaction order.
    """
    current = 0
    while current <= 1_002:  # a young cluster (a fresh CI machine): use up xids until 1,000 is behind us
        with connection.cursor() as cursor:  # autocommit: each statement is a transaction with an xid
            cursor.execute("SELECT pg_current_xact_id()::text")
            current = int(cursor.fetchone()[0])
    powers = [p for p in (10, 100, 1_000, 10_000, 100_000, 1_000_000) if p + 1 < current]
    txids = [t for p in powers for t in (p - 1, p, p + 1)]
    assert len(txids) >= 9
    shuffled = random.Random(7).sample(txids, len(txids))
    with transaction.atomic(), connection.cursor() as cursor:
        for version, txid in enumerate(shuffled, start=1):
            insert_with_txid(cursor, txid, "Probe-powers", version)
        insert_with_txid(cursor, txids[0], "Probe-twin", 1)  # two events of one transaction
    settle()
    expected = sorted([(t, "Probe-powers") for t in txids] + [(txids[0], "Probe-twin")])
    for size in (1, 2):
        seen: list[tuple[int, str]] = []
        after = ORIGIN
        while batch := read_all(after=after, limit=size):
            seen.extend((e.txid, e.stream_id) for e in batch)
            after = Checkpoint.parse(batch[-1].checkpoint.token())
        assert [e for e in seen if e[1].startswith("Probe")] == expected


def test_the_tail_query_enters_the_index_with_both_bounds() -> None:
    """`(transaction_id, position) > (x, p)` and `transaction_id < xmin` must both be Index Conds.

    Written as `a > x OR (a = x AND b > y)` (Django's Q form) the index would be scanned
    from its start on every batch: 164 ms a batch at 1M events against 0.08 ms.
    """
    for n in range(4):
        append(StreamWrite(f"Product-plan-{n}", NO_STREAM, [received()] * 25))
    settle()
    middle = read_all(limit=50)[-1].checkpoint
    with CaptureQueriesContext(connection) as captured:
        read_all(after=middle, limit=10)
    [query] = [q["sql"] for q in captured.captured_queries if "eventstore_event" in q["sql"]]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ANALYZE eventstore_event")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {query}")
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)
    scans = list(index_scans(plan[0]["Plan"]))
    assert [s["Index Name"] for s in scans] == ["eventstore_event_tail"]
    condition = scans[0]["Index Cond"]
    assert 'ROW(transaction_id, "position") > ROW(' in condition
    assert "transaction_id < pg_snapshot_xmin(pg_current_snapshot())" in condition
    assert "Filter" not in scans[0]  # nothing left to check row by row
    assert scans[0].get("Scan Direction") == "Forward"  # the index order is the answer order: no sort


def index_scans(node: dict) -> list[dict]:
    found = [node] if node.get("Node Type") in ("Index Scan", "Index Only Scan") else []
    for child in node.get("Plans", []):
        found.extend(index_scans(child))
    return found


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE from_sql = false")
        return [statement for (statement,) in cursor.fetchall()]


def test_the_hot_path_statements_are_prepared_once_per_connection_and_shape() -> None:
    from eventstore.aggregates.loading import load_many
    from orders_write.aggregates import Product

    connection.close()  # a new connection: nothing prepared by earlier tests
    for version in range(3):
        append(StreamWrite("Product-prep-a", version, [received("prep-a")]))
        append(StreamWrite("Product-prep-b", version, [received("prep-b")]))
        loaded = load_many(Product, ["prep-a", "prep-b"])
        assert {sku: p.version for sku, p in loaded.items()} == {"prep-a": version + 1, "prep-b": version + 1}
    load_many(Product, ["prep-a"])  # another shape: a statement of its own

    statements = _prepared_statements()
    appends = [s for s in statements if "INSERT INTO eventstore_event" in s]
    loads = [s for s in statements if "FROM eventstore_snapshot" in s]
    assert len(appends) == 1  # six appends of one shape, one plan
    assert len(loads) == 2  # two products, one product


def test_a_prepared_load_inside_a_command_transaction_sees_its_own_appends() -> None:
    from eventstore.aggregates.loading import load_many
    from orders_write.aggregates import Product

    with command_transaction():
        append(StreamWrite("Product-own", NO_STREAM, [received("own")]))
        assert load_many(Product, ["own"])["own"].version == 1
        with pytest.raises(RuntimeError), transaction.atomic():
            append(StreamWrite("Product-own", 1, [received("own")]))
            raise RuntimeError
        assert load_many(Product, ["own"])["own"].version == 1  # the rolled-back savepoint is gone


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def test_a_snapshot_commits_without_waiting_for_the_flush_and_only_its_own_transaction_does() -> None:
    """A snapshot is a cache: its commit need not wait for the WAL flush; the events' commits still do."""
    from eventstore.aggregates.loading import load
    from eventstore.aggregates.snapshots import save_snapshot
    from orders_write.aggregates import Product

    append(StreamWrite("Product-snap", NO_STREAM, [received("snap")]))
    assert _synchronous_commit() == "on"
    with transaction.atomic():
        save_snapshot(load(Product, "snap"))
        assert _synchronous_commit() == "off"  # for the transaction that stored the snapshot
    assert _synchronous_commit() == "on"  # and no further
    save_snapshot(load(Product, "snap"))  # alone: its statement is its transaction
    assert _synchronous_commit() == "on"
    assert load(Product, "snap").version == 1


def _stream_versions(raw_pg: psycopg.Connection, stream_id: str) -> list[int]:
    rows = raw_pg.execute("SELECT version FROM eventstore_event WHERE stream_id = %s ORDER BY version", [stream_id])
    return [version for (version,) in rows]


def test_a_standalone_append_survives_the_server_forgetting_its_prepared_statement(raw_pg) -> None:
    """A pooler or `DISCARD ALL` drops prepared statements under a live connection: prepare again, once."""
    append(StreamWrite("Product-forgot", NO_STREAM, [received("forgot")]))
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    append(StreamWrite("Product-forgot", 1, [received("forgot")]))
    assert _stream_versions(raw_pg, "Product-forgot") == [1, 2]


def test_a_standalone_append_on_a_killed_connection_is_a_database_error_and_the_next_one_reconnects(
    raw_pg,
) -> None:
    from django.db import OperationalError

    append(StreamWrite("Product-killed", NO_STREAM, [received("killed")]))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [(pid,)] = cursor.fetchall()
    raw_pg.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(OperationalError):
        append(StreamWrite("Product-killed", 1, [received("killed")]))
    connection.close_if_unusable_or_obsolete()  # what Django does at the end of the request
    append(StreamWrite("Product-killed", 1, [received("killed")]))
    assert _stream_versions(raw_pg, "Product-killed") == [1, 2]


def test_with_autocommit_off_an_append_waits_for_the_callers_commit(raw_pg) -> None:
    """The one-call path runs only in autocommit; otherwise the append is part of the caller's transaction."""
    transaction.set_autocommit(False)
    try:
        append(StreamWrite("Product-manual", NO_STREAM, [received("manual")]))
        assert _stream_versions(raw_pg, "Product-manual") == []  # not committed yet
        transaction.rollback()
    finally:
        transaction.set_autocommit(True)
    assert _stream_versions(raw_pg, "Product-manual") == []

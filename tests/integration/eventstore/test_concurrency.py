"""Writers racing on real connections (PostgreSQL): one winner per version, and a tail that never skips.

Each thread gets its own Django connection (Django's connections are per thread) and
closes it when done; the test database must see the commits, hence transactional tests.
"""

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import connection

from eventstore.errors import ConcurrencyError
from eventstore.log.append import ANY, NO_STREAM, StreamWrite, append, command_transaction, read_all, read_stream
from eventstore.log.positions import ORIGIN, Checkpoint
from orders_write.events import StockReceived
from tests.integration.eventstore.helpers import settle

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def received(n: int = 1) -> StockReceived:
    return StockReceived(product_id="race", quantity=n)


def in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run `fn` on a thread with its own connection; the list receives its result or exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(fn())
        except Exception as exc:
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_writers_racing_at_one_expected_version_leave_exactly_one_winner() -> None:
    stream = "Product-race"
    append(StreamWrite(stream, NO_STREAM, [received()] * 3))
    start = threading.Barrier(8)

    def write(n: int) -> Callable[[], Any]:
        def go() -> Any:
            start.wait()
            return append(StreamWrite(stream, 3, [received(n), received(n)]))

        return go

    runs = [in_thread(write(n)) for n in range(8)]
    for thread, _ in runs:
        thread.join()
    outcomes = [outcome[0] for _, outcome in runs]
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert len(winners) == 1 and winners[0].versions == {stream: 5}
    assert all(isinstance(o, ConcurrencyError) for o in losers), losers
    assert {(o.stream_id, o.expected, o.actual) for o in losers} == {(stream, 3, 5)}
    assert [e.version for e in read_stream(stream)] == [1, 2, 3, 4, 5]  # no gap, no duplicate


def backend_pid() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid


def wait_until_blocked(pid: int, timeout: float = 30.0) -> None:
    """Poll pg_stat_activity until backend `pid` waits on a lock (no sleep-and-hope)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.01)
    raise TimeoutError(f"backend {pid} never blocked")


def test_a_writer_that_lost_the_race_inside_the_insert_gets_a_concurrency_error() -> None:
    """The loser does not see the winner's row (its snapshot is older): the unique index stops it.

    Deterministic: the winner holds its transaction open until the loser is seen
    blocked on the winner's index entry, then commits.
    """
    stream = "Product-blocked"
    append(StreamWrite(stream, NO_STREAM, [received()]))
    winner_appended, release = threading.Event(), threading.Event()
    loser_pid: list[int] = []

    def winner() -> Any:
        with command_transaction():
            result = append(StreamWrite(stream, 1, [received(2)]))
            winner_appended.set()
            release.wait(30)
        return result

    def loser() -> Any:
        loser_pid.append(backend_pid())
        winner_appended.wait(30)
        return append(StreamWrite(stream, 1, [received(3)]))

    win_thread, won = in_thread(winner)
    lose_thread, lost = in_thread(loser)
    winner_appended.wait(30)
    while not loser_pid:
        time.sleep(0.001)
    wait_until_blocked(loser_pid[0])
    release.set()
    win_thread.join()
    lose_thread.join()
    assert won[0].versions == {stream: 2}
    assert isinstance(lost[0], ConcurrencyError)
    assert (lost[0].stream_id, lost[0].expected, lost[0].actual) == (stream, 1, 2)
    assert [e.to_domain().quantity for e in read_stream(stream)] == [1, 2]


def test_a_writer_holding_an_older_xid_cannot_make_the_tail_deliver_v2_before_v1() -> None:
    """DESIGN.md's trap: B takes its xid, A appends v1 and commits, then B reads and appends.

    At READ COMMITTED B would see v1 and commit v2 under a *smaller* xid than v1's, so
    the tail, ordered by (xid, position), would deliver v2 first. The store's
    REPEATABLE READ makes B's append fail as a version conflict instead, and B's retry
    lands after v1.
    """
    stream = "Product-order"
    with pytest.raises(ConcurrencyError), command_transaction():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()")  # B holds its xid (a row lock would do)
        a, a_result = in_thread(lambda: append(StreamWrite(stream, NO_STREAM, [received(1)])))
        a.join()
        assert a_result[0].versions == {stream: 1}
        append(StreamWrite(stream, ANY, [received(2)]))  # B: reads the stream, appends
    append(StreamWrite(stream, ANY, [received(2)]))  # B retries in a new transaction
    settle()
    tail = [e for e in read_all() if e.stream_id == stream]
    assert [e.version for e in tail] == [1, 2]
    assert tail[0].txid < tail[1].txid


def test_at_read_committed_the_same_interleaving_does_deliver_v2_first(raw_pg: psycopg.Connection) -> None:
    """The counter-example that shows the test above tests something: plain SQL, no store."""
    stream = "Product-rc"
    append(StreamWrite("Product-warmup", NO_STREAM, [received()]))
    insert = (
        "INSERT INTO eventstore_event (event_id, stream_id, stream_type, version, event_type, schema_version,"
        " data, metadata, recorded_at) SELECT gen_random_uuid(), %s, 'Product', coalesce(max(version), 0) + 1,"
        " 'StockReceived', 1, '{\"product_id\": \"rc\", \"quantity\": 1}', '{}', now()"
        " FROM eventstore_event WHERE stream_id = %s"
    )
    with raw_pg.transaction():  # B, at the server default READ COMMITTED
        raw_pg.execute("SELECT pg_current_xact_id()")
        a, _ = in_thread(lambda: append(StreamWrite(stream, NO_STREAM, [received(1)])))
        a.join()
        raw_pg.execute(insert, [stream, stream])  # sees v1, writes v2
    settle()
    tail = [e.version for e in read_all() if e.stream_id == stream]
    assert tail == [2, 1]


WRITERS, EVENTS_PER_WRITER = 8, 2_000


def test_no_event_is_skipped_by_the_tail_while_a_naive_position_reader_loses_some() -> None:
    """8 writers x 2,000 events, 1-5 per transaction with a random pause before commit.

    Two readers tail the log at the same time: `read_all` and the naive
    `position > last position`. At the end read_all's reader has every event exactly
    once, in the log's (xid, position) order; the naive one has missed some, which
    shows the workload really commits out of position order.
    """
    done = threading.Event()

    def writer(w: int) -> Callable[[], int]:
        def go() -> int:
            rng, written = random.Random(w), 0
            while written < EVENTS_PER_WRITER:
                size = min(rng.randint(1, 5), EVENTS_PER_WRITER - written)
                with command_transaction():
                    append(StreamWrite(f"Product-w{w}-{written // 500}", ANY, [received()] * size))
                    time.sleep(rng.uniform(0, 0.002))
                written += size
            return written

        return go

    def tail_reader() -> list[tuple[int, int]]:
        seen: list[tuple[int, int]] = []
        after = ORIGIN
        while True:
            finished = done.is_set()  # read once more after the writers stopped
            batch = read_all(after=after, limit=500)
            seen.extend((e.txid, e.position) for e in batch)
            if batch:
                after = batch[-1].checkpoint
            elif finished:
                settle()
                if not read_all(after=after, limit=1):
                    return seen
            else:
                time.sleep(0.001)

    def naive_reader() -> set[int]:
        seen: set[int] = set()
        last = 0
        while True:
            finished = done.is_set()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT position FROM eventstore_event WHERE position > %s ORDER BY position LIMIT 500", [last]
                )
                positions = [row[0] for row in cursor.fetchall()]
            seen.update(positions)
            if positions:
                last = positions[-1]
            elif finished:
                return seen
            else:
                time.sleep(0.001)

    tail_thread, tail_seen = in_thread(tail_reader)
    naive_thread, naive_seen = in_thread(naive_reader)
    writers = [in_thread(writer(w)) for w in range(WRITERS)]
    for thread, outcome in writers:
        thread.join()
        assert outcome == [EVENTS_PER_WRITER], outcome
    done.set()
    tail_thread.join()
    naive_thread.join()
    [tail], [naive] = tail_seen, naive_seen
    assert not isinstance(tail, Exception) and not isinstance(naive, Exception), (tail, naive)

    settle()
    events = read_all(limit=WRITERS * EVENTS_PER_WRITER + 1)
    log = [(e.txid, e.position) for e in events]
    assert len(log) == WRITERS * EVENTS_PER_WRITER
    assert tail == log  # every event, exactly once, in the stable (xid, position) order
    assert len(set(tail)) == len(tail)
    versions: dict[str, list[int]] = {}
    for event in events:
        versions.setdefault(event.stream_id, []).append(event.version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())  # each stream in order
    lost = len(log) - len(naive)
    assert lost > 0, "the naive reader saw everything: the workload did not commit out of order"
    print(f"naive reader lost {lost} of {len(log)} events ({lost / len(log):.0%})")


def test_checkpoint_tokens_compare_like_the_log_order() -> None:
    """Read-your-writes compares a projection's checkpoint with a command's token as tuples."""
    first = append(StreamWrite("Product-t1", NO_STREAM, [received()])).checkpoint
    second = append(StreamWrite("Product-t2", NO_STREAM, [received()])).checkpoint
    assert first < second
    assert Checkpoint.parse(first.token()) < Checkpoint.parse(second.token())

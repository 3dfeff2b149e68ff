"""PostgreSQL's recorder: the log's rows, aggregates' loads, the command transaction, NOTIFY.

Raw SQL on purpose: this is the hot path of every command, and the ORM costs several
times the SQL it sends. An append is one prepared statement that checks the expected
versions and inserts, alone (autocommit: its own transaction) or inside the
command's transaction.

Readers order the log by (transaction_id, position) and take only events of
transactions older than every running one (`READABLE`): positions come from a
sequence at insert time but transactions commit in another order, so a reader that
took `position > checkpoint` would skip events under concurrent writers (DESIGN.md).

It is the whole `Recorder` protocol for PostgreSQL's log in one class, so it is as long
as the protocol; the tables, tamper records, roles and listener live beside it.
"""

import functools
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any, Final

import psycopg
from django.db import connections
from psycopg import IsolationLevel

from eventstore.backends.postgres import roles
from eventstore.backends.postgres.listener import PostgresListener
from eventstore.backends.postgres.prepared import prepared_cursor
from eventstore.backends.recorder import EVENT_COLUMNS, FoldRow, Inserted, Row, StreamRows
from eventstore.backends.standard_sql import SNAPSHOT_INSERT, SNAPSHOT_ON_CONFLICT
from eventstore.log.positions import Checkpoint

OLDEST_RUNNING: Final = "pg_snapshot_xmin(pg_current_snapshot())"
"""The oldest transaction still running in the cluster: nothing older can commit any more."""
READABLE: Final = f"transaction_id < {OLDEST_RUNNING}"
"""The readable tail: events of transactions older than every running one, so none can still commit before them."""
AFTER: Final = "(transaction_id, position) > (%s::xid8, %s)"
"""Past a checkpoint, written as one row comparison so the index is entered at the checkpoint, not scanned
from its start (`a > x OR (a = x AND b > y)` is not: DESIGN.md's measured traps)."""
LOG_ORDER: Final = "transaction_id, position"
SELECT: Final = ", ".join(EVENT_COLUMNS).replace("transaction_id", "transaction_id::text AS txid", 1)
"""xid8 crosses the wire as text: psycopg has no xid8 loader and integers cannot be cast to xid8."""

_UNIQUE_STREAM_VERSION = "eventstore_event_stream_version"
_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock
_RECORDED: set[tuple[str, Checkpoint]] = set()
"""Tokens `is_recorded` found, per database name."""
_RECORDED_MAX: Final = 10_000


def xid(checkpoint: Checkpoint) -> list[Any]:
    """The parameters of `AFTER` for a checkpoint."""
    return [str(checkpoint.txid), checkpoint.position]


class PostgresLog:
    single_statement_append = True
    listens = True
    database_roles = True
    transaction_id_type = "xid8"
    transaction_id_as_text = True

    # Writing ---------------------------------------------------------------------------

    def insert_events(self, streams: Sequence[StreamRows], *, using: str) -> Inserted:
        """Check every expected version and insert, in one statement (one round trip).

        The versions are read from the transaction's snapshot inside the INSERT; a
        stream that is not where the writer expected gets no rows, and neither does
        any other. A concurrent writer that got there first makes the INSERT fail on
        the unique `(stream_id, version)` constraint (REPEATABLE READ: it cannot see
        that row). Alone in autocommit it is as safe as REPEATABLE READ: the statement's
        snapshot is taken before its xid is assigned, so any version it sees committed
        has a smaller xid than its own, and the tail can never deliver v(n+1) before v(n).
        """
        connection = connections[using]
        params: list[Any] = []
        for stream in streams:
            params.extend((stream.stream_id, stream.stream_type, stream.expected_version))
        for stream in streams:
            for row in stream.events:
                params.extend(row)
        sql = _append_statement(tuple(len(stream.events) for stream in streams))
        cursor = prepared_cursor(connection)
        with connection.wrap_database_errors:
            rows = cursor.execute(sql, params, prepare=True).fetchall()
        actual = [0] * len(streams)
        position = txid = None
        for index, actual_version, last_position, last_txid in rows:
            actual[int(index)] = int(actual_version)
            position, txid = last_position, last_txid
        checkpoint = Checkpoint(int(txid), int(position)) if position is not None and txid is not None else None
        return Inserted(actual, checkpoint)

    def is_write_conflict(self, exc: BaseException) -> bool:
        cause = exc.__cause__
        if getattr(cause, "sqlstate", None) in _CONFLICT_SQLSTATES:
            return True
        return isinstance(cause, psycopg.IntegrityError) and cause.diag.constraint_name == _UNIQUE_STREAM_VERSION

    @contextmanager
    def command_isolation(self, *, using: str) -> Iterator[Callable[[], None]]:
        """Have psycopg open the next transaction with `BEGIN ISOLATION LEVEL REPEATABLE READ`.

        At READ COMMITTED a writer that took its xid before reading a stream could
        commit version n+1 with a smaller xid than version n, and the tail would
        deliver them out of order; at REPEATABLE READ that race fails with a unique
        violation instead. Sending the level with BEGIN saves the round trip of a
        separate `SET TRANSACTION` on every command (bench/append.py). Django leaves
        the level unset (server default, READ COMMITTED); yields the function that
        puts it back, which also runs on the way out.
        """
        connection = connections[using]
        connection.ensure_connection()
        raw = connection.connection
        previous = raw.isolation_level

        def restore() -> None:
            with suppress(psycopg.Error):  # still in the transaction, or broken: Django discards those
                raw.isolation_level = previous

        raw.isolation_level = IsolationLevel.REPEATABLE_READ
        try:
            yield restore
        finally:
            restore()

    def stream_versions(self, stream_ids: Collection[str], *, using: str) -> dict[str, int]:
        if not stream_ids:
            return {}
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT stream_id, MAX(version) FROM eventstore_event WHERE stream_id = ANY(%s) GROUP BY stream_id",
                [list(stream_ids)],
            )
            return dict(cursor.fetchall())

    # Reading ---------------------------------------------------------------------------

    def select_stream(self, stream_id: str, after_version: int, *, using: str) -> list[Row]:
        with connections[using].cursor() as cursor:
            cursor.execute(
                f"SELECT {SELECT} FROM eventstore_event WHERE stream_id = %s AND version > %s ORDER BY version",
                [stream_id, after_version],
            )
            return cursor.fetchall()

    def select_tail(
        self, after: Checkpoint, limit: int, event_types: Collection[str] | None, *, using: str
    ) -> list[Row]:
        where, params = f"{AFTER} AND {READABLE}", xid(after)
        if event_types is not None:
            where += " AND event_type = ANY(%s)"
            params.append(list(event_types))
        with connections[using].cursor() as cursor:
            cursor.execute(
                f"SELECT {SELECT} FROM eventstore_event WHERE {where} ORDER BY {LOG_ORDER} LIMIT %s", [*params, limit]
            )
            return cursor.fetchall()

    def head(self, *, using: str) -> Checkpoint | None:
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT transaction_id::text AS txid, position FROM eventstore_event"
                f" WHERE {READABLE} ORDER BY transaction_id DESC, position DESC LIMIT 1"
            )
            row = cursor.fetchone()
        return Checkpoint(int(row[0]), int(row[1])) if row else None

    def is_recorded(self, checkpoint: Checkpoint, *, using: str) -> bool:
        """One primary-key lookup; the transaction id must match too, so a made-up token is refused.

        A token found is remembered by the process: a client reading its own write sends
        the same token on several reads, and the answer cannot change, since the log is
        append-only and PostgreSQL never gives a transaction id twice (xid8 does not wrap).
        A token not found is asked again: it may be a commit not yet visible here.
        """
        key = (connections[using].settings_dict["NAME"], checkpoint)
        if key in _RECORDED:
            return True
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT transaction_id::text AS txid FROM eventstore_event WHERE position = %s", [checkpoint.position]
            )
            row = cursor.fetchone()
        if row is None or int(row[0]) != checkpoint.txid:
            return False
        if len(_RECORDED) >= _RECORDED_MAX:  # bounded: forgetting costs one lookup, never a wrong answer
            _RECORDED.clear()
        _RECORDED.add(key)
        return True

    def is_readable(self, checkpoint: Checkpoint, *, using: str) -> bool:
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT %s::xid8 < {OLDEST_RUNNING}", [str(checkpoint.txid)])
            return bool(cursor.fetchone()[0])

    def count_after(self, after: Checkpoint, *, using: str) -> int:
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM eventstore_event WHERE {AFTER}", xid(after))
            return int(cursor.fetchone()[0])

    def first_recorded_after(self, after: Checkpoint, *, using: str) -> datetime | None:
        with connections[using].cursor() as cursor:
            cursor.execute(
                f"SELECT recorded_at FROM eventstore_event WHERE {AFTER} ORDER BY {LOG_ORDER} LIMIT 1", xid(after)
            )
            row = cursor.fetchone()
        return row[0] if row else None

    def count_of_types(self, event_types: Collection[str], *, using: str) -> int:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM eventstore_event WHERE event_type = ANY(%s)", [list(event_types)])
            return int(cursor.fetchone()[0])

    # Aggregates ------------------------------------------------------------------------

    def select_aggregates(self, snapshot_schema: int, stream_ids: Sequence[str], *, using: str) -> list[FoldRow]:
        """Prepared once per connection and number of streams: planning costs more than running it."""
        connection = connections[using]
        params = [snapshot_schema, *stream_ids, *(x for sid in stream_ids for x in (sid, sid))]
        cursor = prepared_cursor(connection)
        with connection.wrap_database_errors:
            cursor.execute(_aggregates_statement(len(stream_ids)), params, prepare=True)
            return cursor.fetchall()

    def upsert_snapshot(
        self, stream_id: str, version: int, schema: int, state: str, taken_at: datetime, *, using: str
    ) -> None:
        """Without waiting for the WAL flush: a snapshot is a cache that a crash may lose, and the
        command that took it is waiting to answer its client."""
        with connections[using].cursor() as cursor:
            cursor.execute(_SNAPSHOT_UPSERT, [stream_id, version, schema, state, taken_at])

    def estimated_count(self, *, using: str) -> int | None:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'eventstore_event'::regclass")
            row = cursor.fetchone()
        return int(row[0]) if row and row[0] > 0 else None  # -1 or 0: never analysed

    def distinct_values(self, column: str, *, using: str) -> list[Any]:
        """A loose index scan: the recursive query jumps from one value to the next, one index probe each."""
        connection = connections[using]
        column = connection.ops.quote_name(column)
        with connection.cursor() as cursor:
            cursor.execute(
                f"WITH RECURSIVE v(value) AS ((SELECT {column} FROM eventstore_event ORDER BY 1 LIMIT 1)"
                f" UNION ALL SELECT (SELECT {column} FROM eventstore_event WHERE {column} > v.value"
                " ORDER BY 1 LIMIT 1) FROM v WHERE v.value IS NOT NULL)"
                " SELECT value FROM v WHERE value IS NOT NULL"
            )
            return [value for (value,) in cursor.fetchall()]

    # Wake-ups --------------------------------------------------------------------------

    def notify(self, channel: str, *, using: str) -> None:
        """NOTIFY in a tiny transaction of its own that does not wait for the WAL flush (it carries no data).

        On the append's bare prepared cursor: Django's cursor wrappers cost more Python than the statement.
        """
        connection = connections[using]
        cursor = prepared_cursor(connection)
        with connection.wrap_database_errors:
            cursor.execute(_NOTIFY_SQL, [channel], prepare=True)

    def grant_runtime_role(self, name: str, password: str, *, view_tables: Collection[str] | None, using: str) -> int:
        return roles.grant_runtime_role(name, password, view_tables=view_tables, using=using)

    def listener(self, channel: str, *, using: str) -> PostgresListener:
        return PostgresListener(connections[using].get_connection_params(), channel)


_SNAPSHOT_UPSERT: Final = (
    "WITH no_flush_wait AS (SELECT set_config('synchronous_commit', 'off', true))"
    f" {SNAPSHOT_INSERT} SELECT %s, %s, %s, %s::jsonb, %s FROM no_flush_wait{SNAPSHOT_ON_CONFLICT}"
)
"""The upsert of `SNAPSHOT_SQL` with `synchronous_commit` off for its own transaction only (`true`: local)."""

_NOTIFY_SQL = "SELECT set_config('synchronous_commit', 'off', true), pg_notify(%s, '')"


@functools.lru_cache(maxsize=128)
def _append_statement(shape: tuple[int, ...]) -> str:
    """The append statement for streams of `shape[i]` events each (one text per shape).

    Each stream's index and each event's offset in its stream are written into the text,
    not sent as parameters: they follow from the shape. Fewer parameters keep an order of
    a few lines under psycopg's limit for caching a statement's parsed form (50), past
    which every execution parses the statement's text again in Python.
    """
    streams = ", ".join(f"({index}, %s, %s, %s::int)" for index in range(len(shape)))
    events = ", ".join(
        f"({index}, {offset}, %s::uuid, %s, %s::int, %s::jsonb, %s::jsonb)"
        for index, count in enumerate(shape)
        for offset in range(1, count + 1)
    )
    return _APPEND_SQL.format(streams=streams, events=events)


_APPEND_SQL = """
WITH streams (idx, stream_id, stream_type, expected) AS (VALUES {streams}),
current AS (
    SELECT s.*, coalesce((SELECT max(e.version) FROM eventstore_event e WHERE e.stream_id = s.stream_id), 0) AS actual
    FROM streams s
),
inserted AS (
    INSERT INTO eventstore_event
        (event_id, stream_id, stream_type, version, event_type, schema_version, data, metadata, recorded_at)
    SELECT n.event_id, c.stream_id, c.stream_type, c.actual + n.n, n.event_type, n.schema_version, n.data, n.metadata,
           statement_timestamp()
    FROM (VALUES {events}) AS n (idx, n, event_id, event_type, schema_version, data, metadata)
    JOIN current c ON c.idx = n.idx
    WHERE NOT EXISTS (SELECT 1 FROM current WHERE expected <> -1 AND expected <> actual)
    ORDER BY n.idx, n.n
    RETURNING position, transaction_id
)
SELECT c.idx, c.actual,
       (SELECT max(position) FROM inserted),
       (SELECT transaction_id::text AS txid FROM inserted LIMIT 1)
FROM current c ORDER BY c.idx
"""


@functools.lru_cache(maxsize=32)
def _aggregates_statement(streams: int) -> str:
    """Snapshots of `streams` streams and the events after them, snapshots first in each stream."""
    marks = ", ".join(["%s"] * streams)
    # One uncorrelated bound per stream, so each is computed once and the version range
    # is an index condition: a bound correlated with the event row scans the whole stream.
    tails = " OR ".join(
        ["(stream_id = %s AND version > COALESCE((SELECT version FROM s WHERE stream_id = %s), 0))"] * streams
    )
    return (
        "WITH s AS (SELECT stream_id, version, state FROM eventstore_snapshot"
        f" WHERE schema = %s AND stream_id IN ({marks}))"
        " SELECT stream_id, version, NULL, NULL, state::text FROM s"
        " UNION ALL SELECT stream_id, version, event_type, schema_version, data::text"
        f" FROM eventstore_event WHERE {tails}"
        " ORDER BY 1, 2"
    )

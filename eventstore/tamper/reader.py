"""The log in batches, as stored: what the hashes and seals are computed over, nothing more.

Unlike `eventstore.log.read` nothing is upcast or decoded: a hash covers the stored
bytes, so `data` and `metadata` come as the database's JSON text and `recorded_at` as
the canonical UTC text. The whole log is never held in memory. On PostgreSQL the
batches are read in autocommit on a binary cursor (as `eventstore.rebuild.log_reader` does for
rebuilds): the reader holds no transaction id, so it holds back no projection reader,
and `(transaction_id, position)` bounds are row comparisons the tail index enters at.
"""

from collections.abc import Iterator
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

from eventstore.log.positions import Checkpoint
from eventstore.tamper.canonical import utc_timestamp

BATCH_SIZE = 10_000


StoredEvent = tuple[int, int, str, int, str, int, str, str, str, str]
"""One event as the hash covers it and where it stands in the log: (txid, position, stream_id,
version, event_type, schema_version, data, metadata, recorded_at, hash), data and metadata as
stored JSON text, recorded_at as the canonical UTC text. A plain tuple: the verifier unpacks
millions of them, and building a named tuple per row cost as much as hashing it."""


EventHash = tuple[int, int, str, int, str]
"""What a seal needs of an event: (txid, position, stream_id, version, hash)."""


_UTC_TEXT = """to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_PG_EVENT = (
    "transaction_id::text::bigint AS txid, position, stream_id, version, event_type, schema_version,"
    f" data::text AS data_text, metadata::text AS metadata_text, {_UTC_TEXT} AS recorded_utc, hash"
)
_SQLITE_EVENT = (
    "transaction_id, position, stream_id, version, event_type, schema_version, data, metadata, recorded_at, hash"
)
_PG_HASH = "transaction_id::text::bigint AS txid, position, stream_id, version, hash"
_SQLITE_HASH = "transaction_id, position, stream_id, version, hash"
_PG_RANGE = (
    "(transaction_id, position) > (%s::xid8, %s) AND (transaction_id, position) <= (%s::xid8, %s)"
    " ORDER BY transaction_id, position LIMIT %s"
)
_SQLITE_RANGE = "position > %s AND position <= %s ORDER BY position LIMIT %s"


def log_events(
    after: Checkpoint, upto: Checkpoint, *, batch_size: int = BATCH_SIZE, using: str = DEFAULT_DB_ALIAS
) -> Iterator[list[StoredEvent]]:
    """Every event in (after, upto], in log order, a batch at a time."""
    yield from _ranged(after, upto, batch_size, using, full=True)


def log_hashes(
    after: Checkpoint, upto: Checkpoint, *, batch_size: int = BATCH_SIZE, using: str = DEFAULT_DB_ALIAS
) -> Iterator[list[EventHash]]:
    """The hash of every event in (after, upto], in log order, a batch at a time (sealing)."""
    yield from _ranged(after, upto, batch_size, using, full=False)


def stream_events(
    stream_id: str, *, batch_size: int = BATCH_SIZE, using: str = DEFAULT_DB_ALIAS
) -> Iterator[list[StoredEvent]]:
    """One stream's events in version order, a batch at a time."""
    postgres = connections[using].vendor == "postgresql"
    select = _PG_EVENT if postgres else _SQLITE_EVENT
    sql = f"SELECT {select} FROM eventstore_event WHERE stream_id = %s AND version > %s ORDER BY version LIMIT %s"
    version = 0
    while rows := _fetch(using, sql, [stream_id, version, batch_size]):
        batch = rows if postgres else [_sqlite_event(row) for row in rows]
        yield batch
        version = batch[-1][3]


def _ranged(after: Checkpoint, upto: Checkpoint, size: int, using: str, *, full: bool) -> Iterator[list[Any]]:
    postgres = connections[using].vendor == "postgresql"
    if postgres:
        select = _PG_EVENT if full else _PG_HASH
        sql = f"SELECT {select} FROM eventstore_event WHERE {_PG_RANGE}"
    else:
        select = _SQLITE_EVENT if full else _SQLITE_HASH
        sql = f"SELECT {select} FROM eventstore_event WHERE {_SQLITE_RANGE}"
    while True:
        params = (
            [str(after.txid), after.position, str(upto.txid), upto.position, size]
            if postgres
            else [after.position, upto.position, size]
        )
        rows = _fetch(using, sql, params)
        if not rows:
            return
        batch = rows if postgres or not full else [_sqlite_event(row) for row in rows]
        yield batch
        after = Checkpoint(batch[-1][0], batch[-1][1])


def _fetch(using: str, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    connection = connections[using]
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    connection.ensure_connection()
    # Binary results: psycopg loads integers in about half the time of the text format.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()


def _sqlite_event(row: tuple[Any, ...]) -> StoredEvent:
    txid, position, stream_id, version, event_type, schema, data, metadata, recorded_at, digest = row
    return (txid, position, stream_id, version, event_type, schema, data, metadata, utc_timestamp(recorded_at), digest)


def stream_hashes(stream_id: str, *, using: str = DEFAULT_DB_ALIAS) -> dict[int, str]:
    """Version -> hash of one stream's events (the history endpoint shows them beside the events)."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT version, hash FROM eventstore_event WHERE stream_id = %s", [stream_id])
        return dict(cursor.fetchall())

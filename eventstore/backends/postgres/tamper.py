"""PostgreSQL's side of tamper evidence: the log as stored (jsonb's text is the canonical JSON), and the seals.

Batches are read in autocommit on a binary cursor, as the rebuild's lean reader does:
the reader holds no transaction id, so it holds back no projection reader, and the
`(transaction_id, position)` bounds are row comparisons the tail index enters at.
"""

import zlib
from typing import Any

import psycopg
from django.db import connections

from eventstore.backends.recorder import Row
from eventstore.log.positions import Checkpoint

SEAL_LOCK_KEY = zlib.crc32(b"eventstore-seal")
"""The advisory lock sealers take turns on (the rebuilds' keys are crc32s of other names)."""
_UTC_TEXT = """to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_EVENT = (
    "transaction_id::text::bigint AS txid, position, stream_id, version, event_type, schema_version,"
    f" data::text AS data_text, metadata::text AS metadata_text, {_UTC_TEXT} AS recorded_utc, hash"
)
_HASH = "transaction_id::text::bigint AS txid, position, stream_id, version, hash"
_RANGE = (
    "(transaction_id, position) > (%s::xid8, %s) AND (transaction_id, position) <= (%s::xid8, %s)"
    " ORDER BY transaction_id, position LIMIT %s"
)


class PostgresTamper:
    def select_stored_range(
        self, after: Checkpoint, upto: Checkpoint, limit: int, *, full: bool, using: str
    ) -> list[Row]:
        sql = f"SELECT {_EVENT if full else _HASH} FROM eventstore_event WHERE {_RANGE}"
        return _fetch(using, sql, [str(after.txid), after.position, str(upto.txid), upto.position, limit])

    def select_stored_stream(self, stream_id: str, after_version: int, limit: int, *, using: str) -> list[Row]:
        sql = f"SELECT {_EVENT} FROM eventstore_event WHERE stream_id = %s AND version > %s ORDER BY version LIMIT %s"
        return _fetch(using, sql, [stream_id, after_version, limit])

    def select_seals(self, after_id: int, limit: int, *, using: str) -> list[Row]:
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT id, checkpoint_txid, checkpoint_position, events_count, digest, previous_digest,"
                " heads::text FROM eventstore_seal WHERE id > %s ORDER BY id LIMIT %s",
                [after_id, limit],
            )
            return cursor.fetchall()

    def select_sealed_heads(self, stream_id: str, *, using: str) -> list[Row]:
        with connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT id, checkpoint_txid, checkpoint_position, (heads -> %s)::text FROM eventstore_seal"
                " WHERE heads ? %s ORDER BY id",
                [stream_id, stream_id],
            )
            return cursor.fetchall()

    def lock_seals(self, *, using: str) -> None:
        """Concurrent sealers take turns: the second finds nothing new.

        A transaction-level advisory lock, not a table lock: it needs no privilege beyond
        INSERT, which is all the runtime role holds on this append-only table.
        """
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK_KEY])


def _fetch(using: str, sql: str, params: list[Any]) -> list[Row]:
    connection = connections[using]
    connection.ensure_connection()
    # Binary results: psycopg loads integers in about half the time of the text format.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()

"""SQLite's side of tamper evidence: the log as stored (JSON text and times made canonical here), and the seals."""

from typing import Any

from django.db import connections

from eventstore.backends.recorder import Row
from eventstore.log.positions import Checkpoint
from eventstore.tamper.canonical import canonical_json_text, utc_timestamp

_EVENT = "transaction_id, position, stream_id, version, event_type, schema_version, data, metadata, recorded_at, hash"
_HASH = "transaction_id, position, stream_id, version, hash"
_RANGE = "position > %s AND position <= %s ORDER BY position LIMIT %s"


class SqliteTamper:
    def select_stored_range(
        self, after: Checkpoint, upto: Checkpoint, limit: int, *, full: bool, using: str
    ) -> list[Row]:
        sql = f"SELECT {_EVENT if full else _HASH} FROM eventstore_event WHERE {_RANGE}"
        rows = _fetch(using, sql, [after.position, upto.position, limit])
        return [_canonical(row) for row in rows] if full else rows

    def select_stored_stream(self, stream_id: str, after_version: int, limit: int, *, using: str) -> list[Row]:
        sql = f"SELECT {_EVENT} FROM eventstore_event WHERE stream_id = %s AND version > %s ORDER BY version LIMIT %s"
        return [_canonical(row) for row in _fetch(using, sql, [stream_id, after_version, limit])]

    def select_seals(self, after_id: int, limit: int, *, using: str) -> list[Row]:
        return _fetch(
            using,
            "SELECT id, checkpoint_txid, checkpoint_position, events_count, digest, previous_digest,"
            " heads FROM eventstore_seal WHERE id > %s ORDER BY id LIMIT %s",
            [after_id, limit],
        )

    def select_sealed_heads(self, stream_id: str, *, using: str) -> list[Row]:
        return _fetch(
            using,
            "SELECT s.id, s.checkpoint_txid, s.checkpoint_position, j.value FROM eventstore_seal s,"
            " json_each(s.heads) j WHERE j.key = %s ORDER BY s.id",
            [stream_id],
        )

    def lock_seals(self, *, using: str) -> None:
        """Nothing to lock: the IMMEDIATE transaction already excludes every other writer."""


def _canonical(row: Row) -> Row:
    txid, position, stream_id, version, event_type, schema, data, metadata, recorded_at, digest = row
    data, metadata, recorded_at = canonical_json_text(data), canonical_json_text(metadata), utc_timestamp(recorded_at)
    return (txid, position, stream_id, version, event_type, schema, data, metadata, recorded_at, digest)


def _fetch(using: str, sql: str, params: list[Any]) -> list[Row]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()

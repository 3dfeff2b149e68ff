"""SQLite's recorder, for development and the quick test pass: one writer at a time, the position is the order.

SQLite serializes writers (the command transaction is IMMEDIATE, settings), so an
event is readable the moment it commits, the transaction id column is a constant 0,
and the log's order is the position alone. There is no LISTEN: readers poll.
"""

from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

from django.db import IntegrityError, connections
from django.utils import timezone

from eventstore.backends.recorder import EVENT_COLUMNS, FoldRow, Inserted, Listener, Row, StreamRows
from eventstore.backends.standard_sql import SNAPSHOT_SQL, insert_values
from eventstore.log.positions import Checkpoint

SELECT: Final = ", ".join(EVENT_COLUMNS)
_INSERT_COLUMNS = "event_id, stream_id, stream_type, version, event_type, schema_version, data, metadata, recorded_at"
_UNIQUE_STREAM_VERSION = "eventstore_event.stream_id, eventstore_event.version"


class SqliteLog:
    single_statement_append = False
    listens = False
    database_roles = False
    transaction_id_type = None
    transaction_id_as_text = False

    def insert_events(self, streams: Sequence[StreamRows], *, using: str) -> Inserted:
        """Read the versions, then insert: the IMMEDIATE transaction keeps them true in between."""
        connection = connections[using]
        current = self.stream_versions([s.stream_id for s in streams], using=using)
        actual = [current.get(s.stream_id, 0) for s in streams]
        if any(s.expected_version not in (-1, a) for s, a in zip(streams, actual, strict=True)):
            return Inserted(actual, None)
        recorded_at = connection.ops.adapt_datetimefield_value(timezone.now())
        rows = [
            (event_id, s.stream_id, s.stream_type, a + offset, event_type, schema, data, meta, recorded_at)
            for s, a in zip(streams, actual, strict=True)
            for offset, (event_id, event_type, schema, data, meta) in enumerate(s.events, start=1)
        ]
        with connection.cursor() as cursor:
            insert_values(cursor, "eventstore_event", _INSERT_COLUMNS, rows, " RETURNING position")
            last = max(row[0] for row in cursor.fetchall())
        return Inserted(actual, Checkpoint(0, int(last)))

    def is_write_conflict(self, exc: BaseException) -> bool:
        return isinstance(exc, IntegrityError) and _UNIQUE_STREAM_VERSION in str(exc)

    @contextmanager
    def command_isolation(self, *, using: str) -> Iterator[Callable[[], None]]:
        """Nothing to set: the connection opens every transaction IMMEDIATE (settings), which serializes writers."""
        yield lambda: None

    def stream_versions(self, stream_ids: Collection[str], *, using: str) -> dict[str, int]:
        if not stream_ids:
            return {}
        marks = ", ".join(["%s"] * len(stream_ids))
        with connections[using].cursor() as cursor:
            cursor.execute(
                f"SELECT stream_id, MAX(version) FROM eventstore_event WHERE stream_id IN ({marks}) GROUP BY stream_id",
                list(stream_ids),
            )
            return dict(cursor.fetchall())

    def select_stream(self, stream_id: str, after_version: int, *, using: str) -> list[Row]:
        return _fetch(
            using,
            f"SELECT {SELECT} FROM eventstore_event WHERE stream_id = %s AND version > %s ORDER BY version",
            [stream_id, after_version],
        )

    def select_tail(
        self, after: Checkpoint, limit: int, event_types: Collection[str] | None, *, using: str
    ) -> list[Row]:
        where = "position > %s"
        params: list[int | str] = [after.position]
        if event_types is not None:
            where += f" AND event_type IN ({', '.join(['%s'] * len(event_types))})"
            params.extend(event_types)
        sql = f"SELECT {SELECT} FROM eventstore_event WHERE {where} ORDER BY position LIMIT %s"
        return _fetch(using, sql, [*params, limit])

    def head(self, *, using: str) -> Checkpoint | None:
        rows = _fetch(using, "SELECT 0, position FROM eventstore_event ORDER BY position DESC LIMIT 1", [])
        return Checkpoint(0, int(rows[0][1])) if rows else None

    def is_recorded(self, checkpoint: Checkpoint, *, using: str) -> bool:
        rows = _fetch(using, "SELECT 1 FROM eventstore_event WHERE position = %s", [checkpoint.position])
        return bool(rows) and checkpoint.txid == 0

    def is_readable(self, checkpoint: Checkpoint, *, using: str) -> bool:
        return True  # committed is readable: there is one writer at a time

    def count_after(self, after: Checkpoint, *, using: str) -> int:
        return int(_fetch(using, "SELECT count(*) FROM eventstore_event WHERE position > %s", [after.position])[0][0])

    def first_recorded_after(self, after: Checkpoint, *, using: str) -> datetime | None:
        rows = _fetch(
            using,
            "SELECT recorded_at FROM eventstore_event WHERE position > %s ORDER BY position LIMIT 1",
            [after.position],
        )
        if not rows:
            return None
        stored = rows[0][0]
        value = stored if isinstance(stored, datetime) else datetime.fromisoformat(stored)
        return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value

    def count_of_types(self, event_types: Collection[str], *, using: str) -> int:
        marks = ", ".join(["%s"] * len(event_types))
        sql = f"SELECT count(*) FROM eventstore_event WHERE event_type IN ({marks})"
        return int(_fetch(using, sql, list(event_types))[0][0])

    def select_aggregates(self, snapshot_schema: int, stream_ids: Sequence[str], *, using: str) -> list[FoldRow]:
        marks = ", ".join(["%s"] * len(stream_ids))
        tails = " OR ".join(
            ["(stream_id = %s AND version > COALESCE((SELECT version FROM s WHERE stream_id = %s), 0))"]
            * len(stream_ids)
        )
        sql = (
            "WITH s AS (SELECT stream_id, version, state FROM eventstore_snapshot"
            f" WHERE schema = %s AND stream_id IN ({marks}))"
            " SELECT stream_id, version, NULL, NULL, state FROM s"
            " UNION ALL SELECT stream_id, version, event_type, schema_version, data"
            f" FROM eventstore_event WHERE {tails}"
            " ORDER BY 1, 2"
        )
        params = [snapshot_schema, *stream_ids, *(x for sid in stream_ids for x in (sid, sid))]
        return _fetch(using, sql, params)

    def upsert_snapshot(
        self, stream_id: str, version: int, schema: int, state: str, taken_at: datetime, *, using: str
    ) -> None:
        connection = connections[using]
        taken = connection.ops.adapt_datetimefield_value(taken_at)
        with connection.cursor() as cursor:
            cursor.execute(SNAPSHOT_SQL.format(state="%s"), [stream_id, version, schema, state, taken])

    def estimated_count(self, *, using: str) -> int | None:
        return None  # no statistics: development logs are small enough to count

    def distinct_values(self, column: str, *, using: str) -> list[Any]:
        column = connections[using].ops.quote_name(column)
        return [value for (value,) in _fetch(using, f"SELECT DISTINCT {column} FROM eventstore_event ORDER BY 1", [])]

    def notify(self, channel: str, *, using: str) -> None:
        """No LISTEN on SQLite: readers poll, so there is nobody to tell."""

    def listener(self, channel: str, *, using: str) -> Listener:
        raise NotImplementedError("SQLite has no LISTEN; poll instead (`listens` is False)")

    def grant_runtime_role(self, name: str, password: str, *, view_tables: Collection[str] | None, using: str) -> int:
        raise NotImplementedError("SQLite has no roles (`database_roles` is False)")


def _fetch(using: str, sql: str, params: Sequence[Any]) -> list[Row]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()

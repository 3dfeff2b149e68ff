"""Reading the log: one stream in version order, and the global tail in commit-safe order.

Raw SQL for the same reasons as the store's writes, and one of them is correctness:
see `read_all`. Payloads are upcast here, so no reader ever sees an old shape.
"""

import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils.dateparse import parse_datetime

from eventstore.domain import DomainEvent, decode
from eventstore.positions import ORIGIN, Checkpoint
from eventstore.upcasting import upcast

_COLUMNS = (
    "position, transaction_id, event_id, stream_id, stream_type, version, "
    "event_type, schema_version, data, metadata, recorded_at"
)
_SELECT = _COLUMNS.replace("transaction_id", "transaction_id::text AS txid", 1)


class Recorded(Protocol):
    """What every recorded event offers, full or lean: all a projection's fold may read.

    A projection sees only this (`Projection.apply`), because a rebuild hands projections
    that need no metadata lean events (eventstore.log_reader.LeanEvent) instead of
    RecordedEvents; metadata and the event id are on RecordedEvent alone.
    """

    @property
    def position(self) -> int: ...
    @property
    def txid(self) -> int: ...
    @property
    def stream_id(self) -> str: ...
    @property
    def stream_type(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def event_type(self) -> str: ...
    @property
    def schema_version(self) -> int: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def checkpoint(self) -> Checkpoint: ...
    def to_domain(self) -> DomainEvent: ...


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as the log holds it, its payload already upcast to the current schema (a full `Recorded`)."""

    position: int
    txid: int
    event_id: uuid.UUID
    stream_id: str
    stream_type: str
    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.txid, self.position)

    def to_domain(self) -> DomainEvent:
        """The typed event object (raises UnknownEventType for an unregistered type)."""
        return decode(self.event_type, self.data)


def read_stream(stream_id: str, after_version: int = 0, *, using: str = DEFAULT_DB_ALIAS) -> list[RecordedEvent]:
    """The events of one stream with version > after_version, in version order."""
    sql = f"SELECT {_select(using)} FROM eventstore_event WHERE stream_id = %s AND version > %s ORDER BY version"
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [stream_id, after_version])
        return [_decode(row) for row in cursor.fetchall()]


def read_all(
    after: Checkpoint = ORIGIN,
    limit: int = 1000,
    *,
    event_types: Collection[str] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> list[RecordedEvent]:
    """The next events of the whole log after `after`, in an order no reader can get wrong.

    Positions come from a sequence at insert time but transactions commit in another
    order, so `position > checkpoint` skips events under concurrent writers. On
    PostgreSQL only events of transactions older than every running one are taken
    (`transaction_id < pg_snapshot_xmin(...)`), ordered by (transaction_id, position):
    nothing can still commit before the checkpoint. The row comparison is written as
    one, not as `a > x OR (a = x AND b > y)`, so the index is entered at the checkpoint
    instead of scanned from its start (DESIGN.md's measured traps).
    """
    connection = connections[using]
    params: list[Any]
    if connection.vendor == "postgresql":
        where = (
            "(transaction_id, position) > (%s::xid8, %s) AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
        )
        params = [str(after.txid), after.position]
        order = "transaction_id, position"
    else:
        where, params, order = "position > %s", [after.position], "position"
    if event_types is not None:
        where += f" AND event_type IN ({', '.join(['%s'] * len(event_types))})"
        params.extend(event_types)
    sql = f"SELECT {_select(using)} FROM eventstore_event WHERE {where} ORDER BY {order} LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        return [_decode(row) for row in cursor.fetchall()]


def head(*, using: str = DEFAULT_DB_ALIAS) -> Checkpoint:
    """The checkpoint of the last event a reader can take now (ORIGIN for an empty log)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT transaction_id::text AS txid, position FROM eventstore_event"
                " WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())"
                " ORDER BY transaction_id DESC, position DESC LIMIT 1"
            )
        else:
            cursor.execute("SELECT 0, position FROM eventstore_event ORDER BY position DESC LIMIT 1")
        row = cursor.fetchone()
    return Checkpoint(int(row[0]), int(row[1])) if row else ORIGIN


def is_recorded(checkpoint: Checkpoint, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    """True when `checkpoint` is where an appended event stands: a token some command was given.

    One primary-key lookup. On PostgreSQL the event's transaction id must match too, so
    a token made up from a real position and another transaction id is refused as well.
    """
    if checkpoint == ORIGIN:
        return True
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT transaction_id::text AS txid FROM eventstore_event WHERE position = %s", [checkpoint.position]
            )
            row = cursor.fetchone()
            return row is not None and int(row[0]) == checkpoint.txid
        cursor.execute("SELECT 1 FROM eventstore_event WHERE position = %s", [checkpoint.position])
        return cursor.fetchone() is not None and checkpoint.txid == 0


def wait_until_readable(checkpoint: Checkpoint, *, timeout: float = 5.0, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Wait until `read_all` can return the event at `checkpoint`; False if `timeout` passed first.

    A committed event is not readable yet while any transaction that started before
    it ended is still running, in any database of the cluster (a worker writing
    views, another test run). Code that appends and then reads the tail at once (a
    test, a rebuild's final catch-up) waits here instead of seeing nothing.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return True
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT %s::xid8 < pg_snapshot_xmin(pg_current_snapshot())", [str(checkpoint.txid)])
            if cursor.fetchone()[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)


def count_after(after: Checkpoint, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """How many readable events lie beyond `after`: a projection's lag in events."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM eventstore_event WHERE (transaction_id, position) > (%s::xid8, %s)",
                [str(after.txid), after.position],
            )
        else:
            cursor.execute("SELECT count(*) FROM eventstore_event WHERE position > %s", [after.position])
        return int(cursor.fetchone()[0])


def _select(using: str) -> str:
    return _SELECT if connections[using].vendor == "postgresql" else _COLUMNS


def _decode(row: Sequence[Any]) -> RecordedEvent:
    position, txid, event_id, stream_id, stream_type, version, event_type, schema_version, data, metadata, at = row
    if not isinstance(data, dict):
        data = orjson.loads(data)
    if not isinstance(metadata, dict):
        metadata = orjson.loads(metadata)
    schema_version, data = upcast(event_type, schema_version, data)
    if not isinstance(at, datetime):
        at = parse_datetime(at)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return RecordedEvent(
        position,
        int(txid),
        event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(str(event_id)),
        stream_id,
        stream_type,
        version,
        event_type,
        schema_version,
        data,
        metadata,
        at,
    )

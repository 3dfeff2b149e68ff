"""Loading aggregates from their streams, through snapshots.

A snapshot is the folded state of a stream at some version. Loading reads the newest
snapshot of the aggregate's current snapshot schema and only the events after it, so
a stream with 100,000 events (a popular product) loads as fast as a short one.
Snapshots are a cache: deleting them changes nothing but speed.
"""

import functools
from collections.abc import Collection
from typing import Any, ClassVar, Protocol, Self, TypeVar

import orjson
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from eventstore.domain import DomainEvent
from eventstore.prepared import prepared_cursor
from eventstore.reading import _COLUMNS, _SELECT, _decode

E_contra = TypeVar("E_contra", bound=DomainEvent, contravariant=True)


class Aggregate(Protocol[E_contra]):
    """What `load` needs of an aggregate class (plain Python, no Django).

    `apply` takes only the aggregate's own events: the store cannot check that a stream
    holds only those, so `load` passes each event on untyped and the aggregate's fold
    refuses a foreign one (its `match` ends in `assert_never`).
    """

    stream_type: ClassVar[str]
    snapshot_schema: ClassVar[int]
    id: str
    version: int

    @classmethod
    def blank(cls, aggregate_id: str) -> Self: ...

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any], version: int) -> Self: ...

    def snapshot_state(self) -> dict[str, Any]: ...

    def apply(self, event: E_contra, /) -> None: ...


A = TypeVar("A", bound=Aggregate[Any])


def stream_id_for(aggregate_type: type[Aggregate[Any]], aggregate_id: str) -> str:
    return f"{aggregate_type.stream_type}-{aggregate_id}"


def load(aggregate_type: type[A], aggregate_id: str, *, using: str = DEFAULT_DB_ALIAS) -> A:
    """The aggregate at its current version (version 0: the stream does not exist).

    One statement (`load_many`'s): the snapshot and the events after it come back together.
    """
    return load_many(aggregate_type, [aggregate_id], using=using)[aggregate_id]


def load_many(
    aggregate_type: type[A], aggregate_ids: Collection[str], *, using: str = DEFAULT_DB_ALIAS
) -> dict[str, A]:
    """Several aggregates of one type in one query: their snapshots and the events after them.

    An order names a few products; loading them one by one costs two round trips each
    on a command's hot path (measured with bench/commands.py). Same result as `load`.
    A snapshot comes back as a row with no event type, sorted before its stream's tail.
    """
    streams = {stream_id_for(aggregate_type, aggregate_id): aggregate_id for aggregate_id in aggregate_ids}
    if not streams:
        return {}
    connection = connections[using]
    sql = _load_many_statement(len(streams), connection.vendor)
    params: list[int | str] = [aggregate_type.snapshot_schema, *streams, *(x for sid in streams for x in (sid, sid))]
    if connection.vendor == "postgresql":  # prepared once per connection and number of streams
        cursor = prepared_cursor(connection)
        with connection.wrap_database_errors:
            cursor.execute(sql, params, prepare=True)
            rows = cursor.fetchall()
    else:
        with connection.cursor() as plain:
            plain.execute(sql, params)
            rows = plain.fetchall()
    loaded: dict[str, A] = {}
    for row in rows:
        stream_id, version, event_type = row[3], row[5], row[6]
        aggregate_id = streams[stream_id]
        if event_type is None:
            state = row[8] if isinstance(row[8], dict) else orjson.loads(row[8])
            loaded[aggregate_id] = aggregate_type.from_snapshot(aggregate_id, state, version)
            loaded[aggregate_id].version = version
            continue
        aggregate = loaded.get(aggregate_id)
        if aggregate is None:
            aggregate = loaded[aggregate_id] = aggregate_type.blank(aggregate_id)
            aggregate.version = 0
        recorded = _decode(row)
        aggregate.apply(recorded.to_domain())
        aggregate.version = recorded.version
    for aggregate_id in streams.values():
        if aggregate_id not in loaded:  # no snapshot and no events: the stream does not exist
            loaded[aggregate_id] = aggregate_type.blank(aggregate_id)
            loaded[aggregate_id].version = 0
    return loaded


@functools.lru_cache(maxsize=32)
def _load_many_statement(streams: int, vendor: str) -> str:
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
        " SELECT NULL, NULL, NULL, stream_id, NULL, version, NULL, NULL, state, NULL, NULL FROM s"
        f" UNION ALL SELECT {_SELECT if vendor == 'postgresql' else _COLUMNS} FROM eventstore_event WHERE {tails}"
        " ORDER BY 4, 6"
    )


def snapshot_due(previous_version: int, new_version: int) -> bool:
    """True when the append crossed a multiple of EVENTSTORE_SNAPSHOT_EVERY."""
    every = settings.EVENTSTORE_SNAPSHOT_EVERY
    return every > 0 and new_version // every > previous_version // every


def save_snapshot(aggregate: Aggregate[Any], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Store the aggregate's state unless a newer snapshot is already there.

    Called after the command committed and outside its transaction: a cache write
    must never make a command fail or hold its transaction open longer.
    """
    connection = connections[using]
    stream_id = stream_id_for(type(aggregate), aggregate.id)
    state = orjson.dumps(aggregate.snapshot_state()).decode()
    cast = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO eventstore_snapshot (stream_id, version, schema, state, taken_at)"
            f" VALUES (%s, %s, %s, {cast}, %s)"
            " ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, schema = excluded.schema,"
            " state = excluded.state, taken_at = excluded.taken_at"
            " WHERE eventstore_snapshot.version < excluded.version OR eventstore_snapshot.schema <> excluded.schema",
            [stream_id, aggregate.version, aggregate.snapshot_schema, state, now],
        )

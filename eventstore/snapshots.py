"""Loading aggregates from their streams, through snapshots.

A snapshot is the folded state of a stream at some version. Loading reads the newest
snapshot of the aggregate's current snapshot schema and only the events after it, so
a stream with 100,000 events (a popular product) loads as fast as a short one.
Snapshots are a cache: deleting them changes nothing but speed.
"""

from collections.abc import Collection
from typing import Any, ClassVar, Protocol, Self, TypeVar

import orjson
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from eventstore.domain import DomainEvent
from eventstore.reading import _decode, _select, read_stream


class Aggregate(Protocol):
    """What `load` needs of an aggregate class (plain Python, no Django)."""

    stream_type: ClassVar[str]
    snapshot_schema: ClassVar[int]
    id: str
    version: int

    @classmethod
    def blank(cls, aggregate_id: str) -> Self: ...

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any], version: int) -> Self: ...

    def snapshot_state(self) -> dict[str, Any]: ...

    def apply(self, event: DomainEvent) -> None: ...


A = TypeVar("A", bound=Aggregate)


def stream_id_for(aggregate_type: type[Aggregate], aggregate_id: str) -> str:
    return f"{aggregate_type.stream_type}-{aggregate_id}"


def load(aggregate_type: type[A], aggregate_id: str, *, using: str = DEFAULT_DB_ALIAS) -> A:
    """The aggregate at its current version (version 0: the stream does not exist)."""
    stream_id = stream_id_for(aggregate_type, aggregate_id)
    aggregate, version = _from_snapshot(aggregate_type, aggregate_id, stream_id, using)
    for recorded in read_stream(stream_id, after_version=version, using=using):
        aggregate.apply(recorded.to_domain())
        aggregate.version = recorded.version
    return aggregate


def load_many(
    aggregate_type: type[A], aggregate_ids: Collection[str], *, using: str = DEFAULT_DB_ALIAS
) -> dict[str, A]:
    """Several aggregates of one type in two queries (their snapshots, then all their tails).

    An order names a few products; loading them one by one costs two round trips each
    on a command's hot path (measured in bench/commands.py). Same result as `load`.
    """
    streams = {stream_id_for(aggregate_type, aggregate_id): aggregate_id for aggregate_id in aggregate_ids}
    if not streams:
        return {}
    marks = ", ".join(["%s"] * len(streams))
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT stream_id, version, state FROM eventstore_snapshot WHERE schema = %s AND stream_id IN ({marks})",
            [aggregate_type.snapshot_schema, *streams],
        )
        snapshots = {stream_id: (version, state) for stream_id, version, state in cursor.fetchall()}
    loaded: dict[str, A] = {}
    for stream_id, aggregate_id in streams.items():
        if stream_id in snapshots:
            version, state = snapshots[stream_id]
            aggregate = aggregate_type.from_snapshot(
                aggregate_id, state if isinstance(state, dict) else orjson.loads(state), version
            )
        else:
            aggregate, version = aggregate_type.blank(aggregate_id), 0
        aggregate.version = version
        loaded[aggregate_id] = aggregate
    tails = " OR ".join(["(stream_id = %s AND version > %s)"] * len(streams))
    params = [value for stream_id, aggregate_id in streams.items()
              for value in (stream_id, loaded[aggregate_id].version)]
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT {_select(using)} FROM eventstore_event WHERE {tails} ORDER BY stream_id, version", params
        )
        rows = cursor.fetchall()
    for row in rows:
        recorded = _decode(row)
        aggregate = loaded[streams[recorded.stream_id]]
        aggregate.apply(recorded.to_domain())
        aggregate.version = recorded.version
    return loaded


def _from_snapshot(aggregate_type: type[A], aggregate_id: str, stream_id: str, using: str) -> tuple[A, int]:
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT version, state FROM eventstore_snapshot WHERE stream_id = %s AND schema = %s",
            [stream_id, aggregate_type.snapshot_schema],
        )
        row = cursor.fetchone()
    if row is None:
        aggregate = aggregate_type.blank(aggregate_id)
        aggregate.version = 0
        return aggregate, 0
    version, state = row
    state = state if isinstance(state, dict) else orjson.loads(state)
    return aggregate_type.from_snapshot(aggregate_id, state, version), version


def snapshot_due(previous_version: int, new_version: int) -> bool:
    """True when the append crossed a multiple of EVENTSTORE_SNAPSHOT_EVERY."""
    every = settings.EVENTSTORE_SNAPSHOT_EVERY
    return every > 0 and new_version // every > previous_version // every


def save_snapshot(aggregate: Aggregate, *, using: str = DEFAULT_DB_ALIAS) -> None:
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


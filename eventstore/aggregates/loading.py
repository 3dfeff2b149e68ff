"""Loading aggregates from their streams, through snapshots.

A snapshot is the folded state of a stream at some version. Loading reads the newest
snapshot of the aggregate's current snapshot schema and only the events after it, so
a stream with 100,000 events (a popular product) loads as fast as a short one.
Snapshots are a cache: deleting them changes nothing but speed.
"""

from collections.abc import Collection
from typing import Any, ClassVar, Protocol, Self, TypeVar

import orjson
from django.db import DEFAULT_DB_ALIAS

from eventstore.backends import recorder_for
from eventstore.domain import DomainEvent
from eventstore.domain import decode as decode_event
from eventstore.log.upcasting import upcast

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
    rows = recorder_for(using).select_aggregates(aggregate_type.snapshot_schema, list(streams), using=using)
    loaded: dict[str, A] = {}
    for stream_id, version, event_type, schema_version, data in rows:
        aggregate_id = streams[stream_id]
        payload = data if isinstance(data, dict) else orjson.loads(data)
        if event_type is None or schema_version is None:  # the snapshot
            loaded[aggregate_id] = aggregate_type.from_snapshot(aggregate_id, payload, version)
            loaded[aggregate_id].version = version
            continue
        aggregate = loaded.get(aggregate_id)
        if aggregate is None:
            aggregate = loaded[aggregate_id] = aggregate_type.blank(aggregate_id)
        _, payload = upcast(event_type, schema_version, payload)
        aggregate.apply(decode_event(event_type, payload))
        aggregate.version = version
    for aggregate_id in streams.values():
        if aggregate_id not in loaded:  # no snapshot and no events: the stream does not exist
            loaded[aggregate_id] = aggregate_type.blank(aggregate_id)
            loaded[aggregate_id].version = 0
    return loaded

"""The whole log in big batches for a rebuild, read one batch ahead where the backend `prefetches`.

A rebuild spends its time in two places, reading and decoding the log and folding it
into rows; reading the next batch on another connection while the current one is
folded overlaps the two. The reader runs in autocommit and holds no transaction id,
so reading the whole log holds back no projection reader (DESIGN.md).

A projection that reads neither an event's metadata nor its id (`needs_metadata =
False`) gets lean batches: those columns are not selected, and the payload comes as
text decoded by orjson, which is several times faster than psycopg's jsonb loader.
"""

import queue
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from django.db import DEFAULT_DB_ALIAS, connections

from eventstore.backends import recorder_for
from eventstore.domain import DomainEvent, decode
from eventstore.log.positions import Checkpoint
from eventstore.log.read import RecordedEvent, read_all
from eventstore.log.upcasting import upcast, upcast_steps


class LeanEvent(NamedTuple):
    """A `Recorded` without metadata and id, cheap to build: not a RecordedEvent, so no fold can
    read what was never selected.

    A tuple, not the frozen dataclass: building a million of those costs more than
    decoding their payloads.
    """

    position: int
    txid: int
    stream_id: str
    stream_type: str
    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    recorded_at: datetime

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.txid, self.position)

    def to_domain(self) -> DomainEvent:
        """The typed event object (raises UnknownEventType for an unregistered type)."""
        return decode(self.event_type, self.data)


def log_batches(
    start: Checkpoint, size: int, types: list[str], *, prefetch: bool, lean: bool = False
) -> Iterator[list[RecordedEvent] | list[LeanEvent]]:
    """The log after `start` in batches; read one batch ahead in a thread where the backend `prefetches`.

    The reader runs on its own connection in autocommit, so it holds no transaction id
    and does not hold back any projection reader. It is only used outside an atomic
    block: a thread's connection cannot see the caller's uncommitted rows. `lean`
    batches (prefetched only) are LeanEvents: no metadata, no event id.
    """
    recorder = recorder_for(DEFAULT_DB_ALIAS)
    if not prefetch or not recorder.prefetches or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        after = start
        while batch := read_all(after, size, event_types=types):
            yield batch
            after = batch[-1].checkpoint
        return
    yield from _prefetched(start, size, types, lean)


_END = object()


def _prefetched(
    start: Checkpoint, size: int, types: list[str], lean: bool
) -> Iterator[list[RecordedEvent] | list[LeanEvent]]:
    batches: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            recorder_for(DEFAULT_DB_ALIAS).prepare_reader(using=DEFAULT_DB_ALIAS)
            after = start
            while not stop.is_set() and (batch := (_read_lean if lean else _read_full)(after, size, types)):
                _put(batches, batch, stop)
                after = batch[-1].checkpoint
            _put(batches, _END, stop)
        except BaseException as exc:
            _put(batches, exc, stop)
        finally:
            connections.close_all()  # this thread's own connections

    reader = threading.Thread(target=read, name="rebuild-reader", daemon=True)
    reader.start()
    try:
        while (item := batches.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=30)


def _read_full(after: Checkpoint, size: int, types: list[str]) -> list[RecordedEvent]:
    return read_all(after, size, event_types=types)


def _read_lean(after: Checkpoint, size: int, types: list[str]) -> list[LeanEvent]:
    """`read_all`'s order and visibility rule, without the columns a lean projection never reads."""
    rows = recorder_for(DEFAULT_DB_ALIAS).select_lean_tail(after, size, types, using=DEFAULT_DB_ALIAS)
    # The reader thread holds the GIL the fold needs: a tuple built straight from its fields
    # (`_make`) and no call for payloads already of the current schema keep its share small.
    loads, make, steps = orjson.loads, LeanEvent._make, upcast_steps()
    return [
        make((position, txid, stream_id, stream_type, version, event_type, schema, loads(payload), recorded_at))
        if (event_type, schema) not in steps
        else LeanEvent(
            position,
            txid,
            stream_id,
            stream_type,
            version,
            event_type,
            *upcast(event_type, schema, loads(payload)),
            recorded_at,
        )
        for position, txid, stream_id, stream_type, version, event_type, schema, payload, recorded_at in rows
    ]


def _put(batches: queue.Queue[Any], item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            batches.put(item, timeout=0.5)
            return
        except queue.Full:
            continue

"""Reading the log: one stream in version order, and the global tail in commit-safe order.

The recorder (`eventstore.backends`) selects the rows; here they become
RecordedEvents, payloads upcast, so no reader ever sees an old shape.
"""

import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from django.db import DEFAULT_DB_ALIAS
from django.utils.dateparse import parse_datetime

from eventstore.backends import recorder_for
from eventstore.domain import DomainEvent
from eventstore.domain import decode as decode_event
from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.log.upcasting import upcast


class Recorded(Protocol):
    """What every recorded event offers, full or lean: all a projection's fold may read.

    A projection sees only this (`Projection.apply`), because a rebuild hands projections
    that need no metadata lean events (eventstore.rebuild.log_reader.LeanEvent) instead of
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
        return decode_event(self.event_type, self.data)


def read_stream(stream_id: str, after_version: int = 0, *, using: str = DEFAULT_DB_ALIAS) -> list[RecordedEvent]:
    """The events of one stream with version > after_version, in version order."""
    return [decode(row) for row in recorder_for(using).select_stream(stream_id, after_version, using=using)]


def read_all(
    after: Checkpoint = ORIGIN,
    limit: int = 1000,
    *,
    event_types: Collection[str] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> list[RecordedEvent]:
    """The next events of the whole log after `after`, in an order no reader can get wrong.

    Positions come from a sequence at insert time but transactions commit in another
    order, so `position > checkpoint` would skip events under concurrent writers: the
    recorder returns only the readable tail, events no transaction can still commit
    before (`Recorder.select_tail`).
    """
    rows = recorder_for(using).select_tail(after, limit, event_types, using=using)
    return [decode(row) for row in rows]


def head(*, using: str = DEFAULT_DB_ALIAS) -> Checkpoint:
    """The checkpoint of the last event a reader can take now (ORIGIN for an empty log)."""
    return recorder_for(using).head(using=using) or ORIGIN


def is_recorded(checkpoint: Checkpoint, *, using: str = DEFAULT_DB_ALIAS) -> bool:
    """True when `checkpoint` is where an appended event stands: a token some command was given.

    One primary-key lookup; a token made up from a real position and another
    transaction id is refused as well.
    """
    return checkpoint == ORIGIN or recorder_for(using).is_recorded(checkpoint, using=using)


def wait_until_readable(checkpoint: Checkpoint, *, timeout: float = 5.0, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Wait until `read_all` can return the event at `checkpoint`; False if `timeout` passed first.

    A committed event is not readable yet while any transaction that started before
    it ended is still running, in any database of the cluster (a worker writing
    views, another test run). Code that appends and then reads the tail at once (a
    test, a rebuild's final catch-up) waits here instead of seeing nothing.
    """
    recorder = recorder_for(using)
    deadline = time.monotonic() + timeout
    while not recorder.is_readable(checkpoint, using=using):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    return True


def count_after(after: Checkpoint, *, using: str = DEFAULT_DB_ALIAS) -> int:
    """How many events lie beyond `after`: a projection's lag in events."""
    return recorder_for(using).count_after(after, using=using)


def first_recorded_after(after: Checkpoint, *, using: str = DEFAULT_DB_ALIAS) -> datetime | None:
    """When the first event past `after` was recorded: how long a reader there has been behind."""
    return recorder_for(using).first_recorded_after(after, using=using)


def count_of_types(event_types: Collection[str], *, using: str = DEFAULT_DB_ALIAS) -> int:
    """How many events of these types the log holds (what a rebuild of a projection handling them reads)."""
    return recorder_for(using).count_of_types(event_types, using=using) if event_types else 0


def decode(row: Sequence[Any]) -> RecordedEvent:
    """A row in `EVENT_COLUMNS` order as a RecordedEvent (data and metadata: dicts or JSON text)."""
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

"""The log in batches, as stored: what the hashes and seals are computed over, nothing more.

Unlike `eventstore.log.read` nothing is upcast or decoded: a hash covers what was
stored, so `data` and `metadata` come as canonical JSON text (on PostgreSQL `data::text`
as it comes; SQLite's stored text is put in canonical form by its backend) and
`recorded_at` as the canonical UTC text. The whole log is never held in memory. The backend reads the
batches (`eventstore.backends.*.tamper`) so that they hold back no projection reader.
"""

from collections.abc import Iterator
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from eventstore.backends import recorder_for
from eventstore.log.positions import Checkpoint

BATCH_SIZE = 10_000


StoredEvent = tuple[int, int, str, int, str, int, str, str, str, str]
"""One event as the hash covers it and where it stands in the log: (txid, position, stream_id,
version, event_type, schema_version, data, metadata, recorded_at, hash), data and metadata as
stored JSON text, recorded_at as the canonical UTC text. A plain tuple: the verifier unpacks
millions of them, and building a named tuple per row cost as much as hashing it."""


EventHash = tuple[int, int, str, int, str]
"""What a seal needs of an event: (txid, position, stream_id, version, hash)."""


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
    recorder = recorder_for(using)
    version = 0
    while batch := recorder.select_stored_stream(stream_id, version, batch_size, using=using):
        yield batch
        version = batch[-1][3]


def _ranged(after: Checkpoint, upto: Checkpoint, size: int, using: str, *, full: bool) -> Iterator[list[Any]]:
    recorder = recorder_for(using)
    while batch := recorder.select_stored_range(after, upto, size, full=full, using=using):
        yield batch
        after = Checkpoint(batch[-1][0], batch[-1][1])


def stream_hashes(stream_id: str, *, using: str = DEFAULT_DB_ALIAS) -> dict[int, str]:
    """Version -> hash of one stream's events (the history endpoint shows them beside the events)."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT version, hash FROM eventstore_event WHERE stream_id = %s", [stream_id])
        return dict(cursor.fetchall())

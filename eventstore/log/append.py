"""Appending to the log: typed events become rows, the recorder writes them, conflicts become ConcurrencyErrors.

Every append takes one path through the database's recorder (`eventstore.backends`),
which checks each stream's expected version and inserts in one go. An append with
nothing else to commit runs alone where the backend can do so in one statement (its
own transaction, one round trip); otherwise it runs in (or joins) a
`command_transaction`. After the commit the projections are woken
(`eventstore.projections.wakeups`).
"""

import contextvars
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from django.db import DEFAULT_DB_ALIAS, IntegrityError, OperationalError, connections, transaction

from eventstore.backends import recorder_for
from eventstore.backends.recorder import EventRow, Recorder, StreamRows
from eventstore.domain import DomainEvent
from eventstore.errors import ConcurrencyError
from eventstore.log.positions import Checkpoint
from eventstore.log.read import Recorded, RecordedEvent, count_after, head, read_all, read_stream, wait_until_readable
from eventstore.projections.wakeups import after_append

__all__ = [
    "ANY",
    "NO_STREAM",
    "AppendResult",
    "NewEvent",
    "Recorded",
    "RecordedEvent",
    "StreamWrite",
    "append",
    "command_transaction",
    "count_after",
    "current_versions",
    "head",
    "read_all",
    "read_stream",
    "stream_type_of",
    "wait_until_readable",
]

ANY: Final = -1
"""Expected version that accepts the stream at whatever version it is."""
NO_STREAM: Final = 0
"""Expected version of a stream that must not exist yet."""


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended: its type, current-schema payload and metadata."""

    event_type: str
    data: dict[str, Any]
    schema_version: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @classmethod
    def of(cls, event: DomainEvent, metadata: dict[str, Any] | None = None) -> "NewEvent":
        return cls(event.event_type(), event.to_payload(), event.schema_version, metadata or {})


@dataclass(frozen=True, slots=True)
class StreamWrite:
    """Events for one stream, and the version the writer saw it at (or ANY / NO_STREAM)."""

    stream_id: str
    expected_version: int
    events: Sequence[NewEvent | DomainEvent]


@dataclass(frozen=True, slots=True)
class AppendResult:
    versions: dict[str, int]
    """The new version of every stream written."""
    checkpoint: Checkpoint
    """Where the last appended event stands in the log: the consistency token."""


def stream_type_of(stream_id: str) -> str:
    """`Order-1234` is of type `Order`: stream ids are `<Type>-<id>`."""
    return stream_id.split("-", 1)[0]


# Writing ---------------------------------------------------------------------------

_pending_writes: contextvars.ContextVar[list[tuple[str, int]] | None] = contextvars.ContextVar(
    "eventstore_pending_writes", default=None
)


@contextmanager
def command_transaction(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """One command's transaction, at the isolation the backend needs for the tail's order.

    REPEATABLE READ on PostgreSQL, IMMEDIATE on SQLite (`Recorder.command_isolation`
    says why). Lost races and serialization failures leave here as one `ConcurrencyError`.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        yield  # joined an enclosing command transaction
        return
    recorder = recorder_for(using)
    writes: list[tuple[str, int]] = []
    marker = _pending_writes.set(writes)
    try:
        with (
            _ConflictsAsConcurrencyErrors(writes, using, recorder),
            recorder.command_isolation(using=using) as restore,
            transaction.atomic(using=using),
        ):
            # The first commit hook puts the isolation level back, so the hooks after it
            # (projection catch-up when tasks run eagerly) get the connection's usual one.
            transaction.on_commit(restore, using=using)
            yield
    finally:
        _pending_writes.reset(marker)


class _ConflictsAsConcurrencyErrors:
    """A lost race on `(stream_id, version)` or a serialization failure leaves as a ConcurrencyError.

    `writes` lists (stream, expected version) of what was appended; it is read after
    the rollback, to name the stream that moved. A class, not `@contextmanager`: it
    wraps every append, and a generator-based one costs several times more Python.
    """

    __slots__ = ("recorder", "using", "writes")

    def __init__(self, writes: list[tuple[str, int]], using: str, recorder: Recorder) -> None:
        self.writes = writes
        self.using = using
        self.recorder = recorder

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, (IntegrityError, OperationalError)) and self.writes and self.recorder.is_write_conflict(exc):
            raise _conflict(self.writes, self.using) from exc


def append(
    *writes: StreamWrite,
    metadata: dict[str, Any] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> AppendResult:
    """Append events to one or more streams in one transaction, each at its expected version.

    Either every event is appended or none is: a stream at another version than the
    writer expected raises ConcurrencyError naming it, and nothing is written anywhere.
    Inside a `command_transaction` the append joins it, so the caller can record more
    (an idempotency answer) in the same commit.
    """
    if len({w.stream_id for w in writes}) != len(writes):
        raise ValueError("each stream may appear once per append")
    if not any(w.events for w in writes):
        raise ValueError("nothing to append")
    recorder = recorder_for(using)
    connection = connections[using]
    if recorder.single_statement_append and not connection.in_atomic_block and connection.get_autocommit():
        # Nothing else to commit: the one statement is its own transaction.
        expected = [(w.stream_id, w.expected_version) for w in writes]
        with _ConflictsAsConcurrencyErrors(expected, using, recorder):
            result = _record(recorder, writes, metadata or {}, using)
        after_append(using)
        return result
    with command_transaction(using):
        pending = _pending_writes.get()
        if pending is not None:
            pending.extend((w.stream_id, w.expected_version) for w in writes)
        result = _record(recorder, writes, metadata or {}, using)
        transaction.on_commit(lambda: after_append(using), using=using, robust=True)
        return result


def _record(recorder: Recorder, writes: Sequence[StreamWrite], metadata: dict[str, Any], using: str) -> AppendResult:
    """The one path of every append: rows to the recorder, its versions checked against the expected ones."""
    shared_meta = orjson.dumps(metadata).decode()
    inserted = recorder.insert_events([_stream_rows(w, metadata, shared_meta) for w in writes], using=using)
    versions: dict[str, int] = {}
    for write, actual in zip(writes, inserted.actual_versions, strict=True):
        if write.expected_version != ANY and write.expected_version != actual:
            raise ConcurrencyError(write.stream_id, write.expected_version, actual)
        versions[write.stream_id] = actual + len(write.events)
    if inserted.checkpoint is None:  # the recorder refused with every stream where expected: a backend bug
        raise RuntimeError("the recorder inserted nothing, yet every stream was at its expected version")
    return AppendResult(versions, inserted.checkpoint)


def _stream_rows(write: StreamWrite, metadata: dict[str, Any], shared_meta: str) -> StreamRows:
    """The write as the recorder takes it: each event's id, type, schema version, and JSON payload and metadata.

    Every event of a command carries the same metadata, so its JSON (`shared_meta`) is
    written once per append; only an event with metadata of its own gets a merged copy.
    A typed event becomes a row directly, without a NewEvent in between.
    """
    rows: list[EventRow] = []
    for item in write.events:
        if isinstance(item, NewEvent):
            meta = orjson.dumps({**metadata, **item.metadata}).decode() if item.metadata else shared_meta
            rows.append(
                (str(item.event_id), item.event_type, item.schema_version, orjson.dumps(item.data).decode(), meta)
            )
        else:
            rows.append(
                (
                    str(uuid.uuid4()),
                    item.event_type(),
                    item.schema_version,
                    orjson.dumps(item.to_payload()).decode(),
                    shared_meta,
                )
            )
    return StreamRows(write.stream_id, stream_type_of(write.stream_id), write.expected_version, rows)


def current_versions(stream_ids: Collection[str], *, using: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """The current version of each stream that exists (absent streams are left out)."""
    return recorder_for(using).stream_versions(stream_ids, using=using)


def _conflict(writes: list[tuple[str, int]], using: str) -> ConcurrencyError:
    """Name the stream that moved under the writer (read after the rollback)."""
    actual = current_versions([stream_id for stream_id, _ in writes], using=using)
    for stream_id, expected in writes:
        if expected != ANY and actual.get(stream_id, 0) != expected:
            return ConcurrencyError(stream_id, expected, actual.get(stream_id, 0))
    stream_id, expected = writes[0]
    return ConcurrencyError(stream_id, expected, actual.get(stream_id, 0))

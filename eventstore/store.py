"""The event store: append to streams atomically (reads live in `eventstore.reading`, re-exported here).

Raw SQL on purpose: this is the hot path of every command, and the ORM costs several
times the SQL it sends. On PostgreSQL an append is one prepared statement that checks
the expected versions and inserts, then NOTIFY follows the commit (bench/append.py
measures it against bare psycopg); callers import everything from this module.
"""

import contextvars
import functools
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, OperationalError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from psycopg import IsolationLevel

from eventstore.domain import DomainEvent
from eventstore.errors import ConcurrencyError
from eventstore.positions import Checkpoint
from eventstore.post_commit import best_effort
from eventstore.prepared import execute_alone, prepared_cursor
from eventstore.reading import Recorded, RecordedEvent, count_after, head, read_all, read_stream, wait_until_readable
from eventstore.signals import events_committed

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

_UNIQUE_STREAM_VERSION = "eventstore_event_stream_version"


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
    """One command's transaction: REPEATABLE READ on PostgreSQL, IMMEDIATE on SQLite.

    At READ COMMITTED a writer that took its xid before reading a stream could commit
    version n+1 with a smaller xid than version n, and the tail would deliver them out
    of order; at REPEATABLE READ that race fails with a unique violation instead. Lost
    races and serialization failures leave here as one `ConcurrencyError`.
    """
    connection = connections[using]
    if connection.in_atomic_block:
        yield  # joined an enclosing command transaction
        return
    writes: list[tuple[str, int]] = []
    marker = _pending_writes.set(writes)
    try:
        with (
            _ConflictsAsConcurrencyErrors(writes, using),
            _repeatable_read(connection) as restore,
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

    __slots__ = ("using", "writes")

    def __init__(self, writes: list[tuple[str, int]], using: str) -> None:
        self.writes = writes
        self.using = using

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, (IntegrityError, OperationalError)) and self.writes and _is_write_conflict(exc):
            raise _conflict(self.writes, self.using) from exc


@contextmanager
def _repeatable_read(connection: BaseDatabaseWrapper) -> Iterator[Callable[[], None]]:
    """Have psycopg open the next transaction with `BEGIN ISOLATION LEVEL REPEATABLE READ`.

    Sending the level with BEGIN saves the round trip of a separate `SET TRANSACTION`
    on every command (bench/append.py). Django leaves the level unset on its
    connections (server default, READ COMMITTED); yields the function that puts it
    back, which also runs on the way out.
    """
    if connection.vendor != "postgresql":
        yield lambda: None
        return
    connection.ensure_connection()
    raw = connection.connection
    previous = raw.isolation_level

    def restore() -> None:
        with suppress(psycopg.Error):  # still in the transaction, or broken: Django discards those
            raw.isolation_level = previous

    raw.isolation_level = IsolationLevel.REPEATABLE_READ
    try:
        yield restore
    finally:
        restore()


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
    connection = connections[using]
    if connection.vendor == "postgresql" and not connection.in_atomic_block and connection.get_autocommit():
        return _append_alone(writes, metadata or {}, connection)
    with command_transaction(using):
        return _append(writes, metadata or {}, connection)


def _append_alone(
    writes: Sequence[StreamWrite], metadata: dict[str, Any], connection: BaseDatabaseWrapper
) -> AppendResult:
    """An append with nothing else to commit: one statement in autocommit, one round trip.

    A single statement is its own transaction, so BEGIN and COMMIT need no trips of
    their own. It is as safe as REPEATABLE READ here: the statement's snapshot is taken
    before its xid is assigned, so any version it sees committed has a smaller xid than
    its own, and the tail can never deliver v(n+1) before v(n); a concurrent writer of
    the same version still fails on the unique (stream_id, version) index.
    """
    with _ConflictsAsConcurrencyErrors([(w.stream_id, w.expected_version) for w in writes], connection.alias):
        versions, checkpoint = _append_postgres(writes, metadata, connection, alone=True)
    _after_commit(connection)
    return AppendResult(versions, checkpoint)


def _append(writes: Sequence[StreamWrite], metadata: dict[str, Any], connection: BaseDatabaseWrapper) -> AppendResult:
    using = connection.alias
    pending = _pending_writes.get()
    if pending is not None:
        pending.extend((w.stream_id, w.expected_version) for w in writes)
    if connection.vendor == "postgresql":
        versions, checkpoint = _append_postgres(writes, metadata, connection)
    else:
        versions, checkpoint = _append_checked(writes, metadata, connection)
    transaction.on_commit(lambda: _after_commit(connection), using=using, robust=True)
    return AppendResult(versions, checkpoint)


def _after_commit(connection: BaseDatabaseWrapper) -> None:
    """Wake the projections; the events are committed, so nothing here may fail the append."""
    if connection.vendor == "postgresql":
        best_effort("notify", _notify, connection)
    best_effort("catch_up", _announce_commit)


def _event_rows(write: StreamWrite, metadata: dict[str, Any]) -> Iterator[tuple[int, str, str, int, str, str]]:
    """(offset in stream, event_id, event_type, schema_version, data, metadata) per event, JSON encoded."""
    for offset, item in enumerate(write.events, start=1):
        new = item if isinstance(item, NewEvent) else NewEvent.of(item)
        meta = {**metadata, **new.metadata} if new.metadata else metadata
        yield (
            offset,
            str(new.event_id),
            new.event_type,
            new.schema_version,
            orjson.dumps(new.data).decode(),
            orjson.dumps(meta).decode(),
        )


def _append_postgres(
    writes: Sequence[StreamWrite], metadata: dict[str, Any], connection: BaseDatabaseWrapper, *, alone: bool = False
) -> tuple[dict[str, int], Checkpoint]:
    """Check every expected version and insert, in one statement (one round trip).

    The versions are read from the transaction's snapshot inside the INSERT; a stream
    that is not where the writer expected gets no rows, and neither does any other.
    A concurrent writer that got there first makes the INSERT fail on the unique
    `(stream_id, version)` constraint (REPEATABLE READ: it cannot see that row), which
    `command_transaction` turns into the same ConcurrencyError. `alone`: no transaction
    around it (autocommit), so it can go down in one libpq call (eventstore/prepared.py).
    """
    streams: list[Any] = []
    events: list[Any] = []
    for index, write in enumerate(writes):
        streams.extend((index, write.stream_id, stream_type_of(write.stream_id), write.expected_version))
        for row in _event_rows(write, metadata):
            events.append(index)
            events.extend(row)
    sql, params = _append_statement(len(writes), len(events) // 7), [*streams, *events]
    if alone:
        rows: Sequence[Sequence[Any]] = execute_alone(connection, sql, params)
    else:
        cursor = prepared_cursor(connection)
        with connection.wrap_database_errors:
            cursor.execute(sql, params, prepare=True)
            rows = cursor.fetchall()
    versions: dict[str, int] = {}
    for index, actual_version, _, _ in rows:
        write, actual = writes[int(index)], int(actual_version)
        if write.expected_version != ANY and write.expected_version != actual:
            raise ConcurrencyError(write.stream_id, write.expected_version, actual)
        versions[write.stream_id] = actual + len(write.events)
    _, _, position, txid = rows[-1]  # every row carries the append's last position and transaction
    return versions, Checkpoint(int(txid), int(position))


@functools.lru_cache(maxsize=64)
def _append_statement(streams: int, events: int) -> str:
    """The append statement for `streams` streams and `events` events in all (one text per shape)."""
    return _APPEND_SQL.format(
        streams=", ".join(["(%s::int, %s, %s, %s::int)"] * streams),
        events=", ".join(["(%s::int, %s::int, %s::uuid, %s, %s::int, %s::jsonb, %s::jsonb)"] * events),
    )


_APPEND_SQL = """
WITH streams (idx, stream_id, stream_type, expected) AS (VALUES {streams}),
current AS (
    SELECT s.*, coalesce((SELECT max(e.version) FROM eventstore_event e WHERE e.stream_id = s.stream_id), 0) AS actual
    FROM streams s
),
inserted AS (
    INSERT INTO eventstore_event
        (event_id, stream_id, stream_type, version, event_type, schema_version, data, metadata, recorded_at)
    SELECT n.event_id, c.stream_id, c.stream_type, c.actual + n.n, n.event_type, n.schema_version, n.data, n.metadata,
           statement_timestamp()
    FROM (VALUES {events}) AS n (idx, n, event_id, event_type, schema_version, data, metadata)
    JOIN current c ON c.idx = n.idx
    WHERE NOT EXISTS (SELECT 1 FROM current WHERE expected <> -1 AND expected <> actual)
    ORDER BY n.idx, n.n
    RETURNING position, transaction_id
)
SELECT c.idx, c.actual,
       (SELECT max(position) FROM inserted),
       (SELECT transaction_id::text AS txid FROM inserted LIMIT 1)
FROM current c ORDER BY c.idx
"""


def _append_checked(
    writes: Sequence[StreamWrite], metadata: dict[str, Any], connection: BaseDatabaseWrapper
) -> tuple[dict[str, int], Checkpoint]:
    """SQLite: read the versions, then insert (the IMMEDIATE transaction keeps them true)."""
    current = current_versions([w.stream_id for w in writes], using=connection.alias)
    recorded_at = connection.ops.adapt_datetimefield_value(timezone.now())
    rows: list[Any] = []
    versions: dict[str, int] = {}
    for write in writes:
        actual = current.get(write.stream_id, 0)
        if write.expected_version != ANY and write.expected_version != actual:
            raise ConcurrencyError(write.stream_id, write.expected_version, actual)
        stream_type = stream_type_of(write.stream_id)
        for offset, event_id, event_type, schema_version, data, meta in _event_rows(write, metadata):
            rows.append(
                (
                    event_id,
                    write.stream_id,
                    stream_type,
                    actual + offset,
                    event_type,
                    schema_version,
                    data,
                    meta,
                    recorded_at,
                )
            )
        versions[write.stream_id] = actual + len(write.events)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO eventstore_event (event_id, stream_id, stream_type, version, event_type,"
            f" schema_version, data, metadata, recorded_at) VALUES {values} RETURNING position",
            [value for row in rows for value in row],
        )
        last = max(row[0] for row in cursor.fetchall())
    return versions, Checkpoint(0, int(last))


def _notify(connection: BaseDatabaseWrapper) -> None:
    """Wake tailing processes (`LISTEN`), in a tiny transaction of its own after the commit.

    Not inside the append: a transaction that NOTIFYs takes a cluster-wide lock at
    commit and holds it through its WAL flush, so concurrent appenders could not share
    a flush (measured: four writers no faster than one). Alone, the notification
    commits without waiting for the flush (it carries no data, so nothing is lost).

    Coalesced per process: within EVENTSTORE_NOTIFY_COALESCE_MS of the last NOTIFY this
    process sent, none is sent, so a burst of appends costs one notification, not one
    transaction each (bench/append.py). Every skipped append committed less than one
    window after a NOTIFY that was sent; a listener woken by it looks again one window
    later (`run_projector` does), so no append goes unseen.
    """
    global _last_notified
    now = time.monotonic()
    if now - _last_notified < settings.EVENTSTORE_NOTIFY_COALESCE_MS / 1000 or not settings.EVENTSTORE_NOTIFY:
        return
    _last_notified = now
    # The append's bare prepared cursor: this runs after appends on the hot path, and
    # Django's cursor wrappers cost more Python than the statement.
    cursor = prepared_cursor(connection)
    with connection.wrap_database_errors:
        cursor.execute(_NOTIFY_SQL, [settings.EVENTSTORE_NOTIFY_CHANNEL], prepare=True)


_last_notified = float("-inf")
_NOTIFY_SQL = "SELECT set_config('synchronous_commit', 'off', true), pg_notify(%s, '')"


def _announce_commit() -> None:
    """Tell listeners (the projection trigger) that new events are committed."""
    events_committed.send(sender=append)


def current_versions(stream_ids: Collection[str], *, using: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """The current version of each stream that exists (absent streams are left out)."""
    if not stream_ids:
        return {}
    marks = ", ".join(["%s"] * len(stream_ids))
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT stream_id, MAX(version) FROM eventstore_event WHERE stream_id IN ({marks}) GROUP BY stream_id",
            list(stream_ids),
        )
        return {stream_id: version for stream_id, version in cursor.fetchall()}


def _is_write_conflict(exc: Exception) -> bool:
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate in ("40001", "40P01"):  # serialization failure, deadlock
        return True
    if isinstance(exc, IntegrityError):
        diag = getattr(cause, "diag", None)
        if diag is not None:
            return diag.constraint_name == _UNIQUE_STREAM_VERSION
        return "eventstore_event.stream_id, eventstore_event.version" in str(exc)
    return False


def _conflict(writes: list[tuple[str, int]], using: str) -> ConcurrencyError:
    """Name the stream that moved under the writer (read after the rollback)."""
    actual = current_versions([stream_id for stream_id, _ in writes], using=using)
    for stream_id, expected in writes:
        if expected != ANY and actual.get(stream_id, 0) != expected:
            return ConcurrencyError(stream_id, expected, actual.get(stream_id, 0))
    stream_id, expected = writes[0]
    return ConcurrencyError(stream_id, expected, actual.get(stream_id, 0))

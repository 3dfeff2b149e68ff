"""The recorder seam: what the event store asks of a database, in rows, with no typed events.

The facade (`eventstore.log`, `eventstore.aggregates`, `eventstore.projections`,
`eventstore.rebuild`) turns typed events into rows and back, upcasts, and maps
conflicts; a backend (`backends.postgres`, `backends.sqlite`) turns rows into its
dialect's SQL. Everything that differs between the databases sits behind these
protocols, so code above them never asks which database it talks to: it asks a
capability (`single_statement_append`, `listens`, ...) or calls a method.

Rows of the log are tuples in `EVENT_COLUMNS` order; a stream's version and the log's
checkpoint are plain integers and `Checkpoint`s. The contract suite
(tests/integration/eventstore/test_recorder_contract.py) holds both backends to it.
"""

from collections.abc import Callable, Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from eventstore.log.positions import Checkpoint

EVENT_COLUMNS: Final = (
    "position",
    "transaction_id",
    "event_id",
    "stream_id",
    "stream_type",
    "version",
    "event_type",
    "schema_version",
    "data",
    "metadata",
    "recorded_at",
)
"""The order of a log row's fields, as every select returns them (data and metadata: dicts or JSON text)."""

Row = tuple[Any, ...]
"""A row as the database returns it."""

EventRow = tuple[str, str, int, str, str]
"""An event to insert: (event_id, event_type, schema_version, data JSON, metadata JSON)."""

LeanRow = tuple[int, int, str, str, int, str, int, Any, datetime]
"""A lean log row: (position, txid, stream_id, stream_type, version, event_type, schema_version, data as
JSON text, recorded_at in UTC)."""


FoldRow = tuple[str, int, str | None, int | None, Any]
"""What an aggregate's fold reads of a row: (stream_id, version, event_type, schema_version, data as JSON
text or a dict). A snapshot is a row with no event type and no schema version, its state as the data."""


@dataclass(frozen=True, slots=True)
class StreamRows:
    """One stream's part of an append: the version the writer expects (-1: any) and its new events."""

    stream_id: str
    stream_type: str
    expected_version: int
    events: Sequence[EventRow]


@dataclass(frozen=True, slots=True)
class Inserted:
    """What an insert found and did: each stream's version before it, and the checkpoint of its last event.

    `checkpoint` is None when a stream was not at its expected version: then nothing was inserted.
    """

    actual_versions: list[int]
    checkpoint: Checkpoint | None


class Listener(Protocol):
    """A connection that waits for the log's commit notifications."""

    def wait(self, timeout: float) -> bool:
        """True once a notification arrived (then the ones queued behind it are drained), False at timeout."""

    def close(self) -> None: ...

    @property
    def closed(self) -> bool: ...

    @property
    def backend_pid(self) -> int | None:
        """The server process listening (None once closed): operators and tests find it in pg_stat_activity."""


class Recorder(Protocol):
    """The log, aggregates' loads, the command transaction and commit notifications, in rows."""

    @property
    def transaction_id_type(self) -> str | None:
        """The column type of `transaction_id` (`eventstore.fields.Xid8Field`), None for Django's BigIntegerField's.

        Read-only, so a backend may declare it as the narrower `str` or `None` it always is.
        """

    transaction_id_as_text: bool
    """Transaction ids are sent as text (xid8 takes no integer parameter)."""

    single_statement_append: bool
    """An append alone can run as one statement in autocommit: its own transaction, one round trip."""
    listens: bool
    """Commits can be waited for (`listener`); otherwise readers poll."""
    database_roles: bool
    """The database has roles and grants, so the app can run as a role that may only append to the log."""

    def grant_runtime_role(self, name: str, password: str, *, view_tables: Collection[str] | None, using: str) -> int:
        """Create or update the app's runtime role and state its privileges; returns the tables granted on.

        `view_tables` are the tables it owns and rebuilds (on the database holding the views), else None.
        Raises `eventstore.errors.RoleRefused` for a role that would hold more than it needs.
        """

    def insert_events(self, streams: Sequence[StreamRows], *, using: str) -> Inserted:
        """Check every stream's expected version and insert all events or none.

        Called in autocommit, outside any transaction, only on a backend with
        `single_statement_append`; otherwise inside the command's transaction.
        """

    def is_write_conflict(self, exc: BaseException) -> bool:
        """The error is a lost race on a stream's version (or a serialization failure): a ConcurrencyError."""

    def command_isolation(self, *, using: str) -> AbstractContextManager[Callable[[], None]]:
        """Open the next transaction at the isolation a command needs; yields the function that restores it."""

    def stream_versions(self, stream_ids: Collection[str], *, using: str) -> dict[str, int]:
        """The current version of each stream that exists."""

    def select_stream(self, stream_id: str, after_version: int, *, using: str) -> list[Row]:
        """A stream's rows with version > after_version, in version order."""

    def select_tail(
        self, after: Checkpoint, limit: int, event_types: Collection[str] | None, *, using: str
    ) -> list[Row]:
        """The readable rows after `after`, in log order (no event can still commit before one of them)."""

    def head(self, *, using: str) -> Checkpoint | None:
        """The checkpoint of the last readable event (None for an empty log)."""

    def is_recorded(self, checkpoint: Checkpoint, *, using: str) -> bool:
        """An event stands at exactly this checkpoint."""

    def is_readable(self, checkpoint: Checkpoint, *, using: str) -> bool:
        """`select_tail` can return the event at `checkpoint` now."""

    def count_after(self, after: Checkpoint, *, using: str) -> int:
        """How many events lie beyond `after` (readable or about to be)."""

    def first_recorded_after(self, after: Checkpoint, *, using: str) -> datetime | None:
        """When the first event beyond `after` was recorded (aware, UTC)."""

    def count_of_types(self, event_types: Collection[str], *, using: str) -> int:
        """How many events of these types the log holds."""

    def select_aggregates(self, snapshot_schema: int, stream_ids: Sequence[str], *, using: str) -> list[FoldRow]:
        """Each stream's snapshot at that schema and the events after it, as `FoldRow`s.

        Sorted by stream and version, the snapshot first. Only what a fold reads: a
        command loads its aggregates on every call, and decoding ids, metadata and times
        it never looks at would be most of the load's Python.
        """

    def upsert_snapshot(
        self, stream_id: str, version: int, schema: int, state: str, taken_at: datetime, *, using: str
    ) -> None:
        """Store a snapshot unless a newer one of the same schema is there."""

    def estimated_count(self, *, using: str) -> int | None:
        """The event table's size from the planner's statistics (None where there are none): `count(*)`
        reads every row of millions."""

    def distinct_values(self, column: str, *, using: str) -> list[Any]:
        """The distinct values of an indexed event column, sorted, without reading the whole index where possible."""

    def notify(self, channel: str, *, using: str) -> None:
        """Tell listeners that events were committed (outside the appending transaction)."""

    def listener(self, channel: str, *, using: str) -> Listener:
        """A connection of its own that waits for `notify` (only where `listens`)."""


class ViewWriter(Protocol):
    """Set-based reads and writes of projections' view tables (live and shadow alike)."""

    native_uuids: bool
    """UUID columns take uuid.UUID values (else the ORM's 32-character hex)."""
    full_text_search: bool
    """The read database searches a tsvector column with to_tsquery (else substring matches)."""

    def commit_without_flush(self, *, using: str) -> None:
        """Let the current transaction commit without waiting for its WAL flush (no-op where meaningless)."""

    def fetch_keyed(
        self, table: str, columns: Sequence[str], key: str, keys: Sequence[Any], *, using: str
    ) -> list[Row]:
        """The rows of `table` whose `key` is among `keys` (one statement; the caller chunks)."""

    def upsert_rows(self, table: str, names: str, rows: Sequence[Sequence[Any]], conflict: str, *, using: str) -> None:
        """Insert rows, `conflict` (an ON CONFLICT clause) deciding what an existing key gets."""

    def insert_rows(self, table: str, names: str, rows: Sequence[Sequence[Any]], *, using: str) -> None:
        """Insert rows the table cannot hold yet, as fast as the database allows."""


class RebuildTables(Protocol):
    """What a blue/green rebuild needs: exclusive runs, shadow tables, and a fast reader of the whole log."""

    prefetches: bool
    """Another connection can read the log ahead while this one writes (and lean rows are offered)."""
    parallel_rebuilds: bool
    """Several blue/green rebuilds may fill their shadow tables at once, from separate processes."""

    def exclusive(self, key: int, *, using: str) -> AbstractContextManager[bool]:
        """Hold a cluster-wide lock on `key` for the block; yields False when another session holds it."""

    def set_lock_timeout(self, milliseconds: int, *, using: str) -> None:
        """Bound lock waits in the current transaction."""

    def create_shadow(self, table: str, shadow: str, *, using: str) -> None:
        """An empty copy of `table` named `shadow` (columns, constraints, indexes)."""

    def defer_indexes(self, shadow: str, *, using: str) -> list[str]:
        """Drop the shadow's plain secondary indexes; their definitions, to build after the fill."""

    def build_indexes(self, definitions: Iterable[str], *, using: str) -> None:
        """Create deferred indexes (concurrently outside a transaction)."""

    def swap(self, table: str, shadow: str, old: str, *, using: str) -> None:
        """Put `shadow` in the place of `table` (indexes keep the live names) and drop the old one."""

    def prepare_reader(self, *, using: str) -> None:
        """Ready this thread's connection to read the log in bulk."""

    def select_lean_tail(self, after: Checkpoint, limit: int, event_types: list[str], *, using: str) -> list[LeanRow]:
        """`select_tail`'s rows without event ids and metadata, payloads as JSON text (where `prefetches`)."""


class TamperRecords(Protocol):
    """The log as stored, for hashing (`eventstore.tamper`): JSON as text, times as canonical UTC text."""

    def select_stored_range(
        self, after: Checkpoint, upto: Checkpoint, limit: int, *, full: bool, using: str
    ) -> list[Row]:
        """Events in (after, upto] in log order: `StoredEvent` rows when `full`, else `EventHash` rows."""

    def select_stored_stream(self, stream_id: str, after_version: int, limit: int, *, using: str) -> list[Row]:
        """One stream's `StoredEvent` rows past a version, in version order."""

    def select_seals(self, after_id: int, limit: int, *, using: str) -> list[Row]:
        """Seals past an id, their heads as JSON text."""

    def select_sealed_heads(self, stream_id: str, *, using: str) -> list[Row]:
        """(seal id, checkpoint txid, checkpoint position, the stream's head entry as JSON text) of every seal
        that names the stream."""

    def lock_seals(self, *, using: str) -> None:
        """Make concurrent sealers take turns, until the transaction ends."""


class Backend(Recorder, ViewWriter, RebuildTables, TamperRecords, Protocol):
    """Everything one database offers the event store."""

"""PostgreSQL's view writes and rebuild tables: COPY, shadow tables, deferred indexes, a lean log reader.

Shadow tables copy the live table's shape with `LIKE ... INCLUDING ALL` (columns,
defaults, generated columns, constraints, indexes); index names are global in a
schema, so the copy's indexes get fresh names and are renamed back to the live names
after the swap (else the next rebuild's shadow would collide with them).
"""

import logging
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC
from typing import Any, Final

import orjson
import psycopg
from django.db import connections

from eventstore.backends.postgres.log import AFTER, LOG_ORDER, READABLE, xid
from eventstore.backends.recorder import LeanRow, Row
from eventstore.backends.standard_sql import insert_values
from eventstore.log.positions import Checkpoint

logger = logging.getLogger(__name__)

COPY_FROM_ROWS: Final = 500
"""Smaller (live) batches go as one VALUES statement: cheaper than a staging table's DDL."""
MAINTENANCE_WORK_MEM: Final = "256MB"
"""For building a shadow's deferred indexes: a GIN or btree build that sorts in memory is several times faster."""

_PG_INDEX_NAME = re.compile(r"INDEX (\S+) ON (\S+)")
_CREATE_INDEX = re.compile(r"^(CREATE\s+INDEX\s+)", re.IGNORECASE)
_LEAN_SQL = (
    "SELECT position, transaction_id::text::bigint AS txid, stream_id, stream_type, version, event_type,"
    f" schema_version, data::text AS payload, recorded_at FROM eventstore_event WHERE {AFTER} AND {READABLE}"
    f" AND event_type = ANY(%s) ORDER BY {LOG_ORDER} LIMIT %s"
)


class PostgresTables:
    native_uuids = True
    full_text_search = True
    prefetches = True
    parallel_rebuilds = True

    # Views -----------------------------------------------------------------------------

    def commit_without_flush(self, *, using: str) -> None:
        with connections[using].cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")

    def fetch_keyed(
        self, table: str, columns: Sequence[str], key: str, keys: Sequence[Any], *, using: str
    ) -> list[Row]:
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = ANY(%s)", [list(keys)])
            return cursor.fetchall()

    def upsert_rows(self, table: str, names: str, rows: Sequence[Sequence[Any]], conflict: str, *, using: str) -> None:
        """Big batches (a rebuild's) are COPYed into a temporary staging table and merged with one INSERT ... SELECT.

        A multi-row VALUES list or per-column arrays cost more in client-side parameter
        handling than the database spends on the rows (profiled on 20,000-event batches).
        """
        with connections[using].cursor() as cursor:
            if len(rows) < COPY_FROM_ROWS:
                insert_values(cursor, table, names, rows, conflict)
                return
            # Named for the columns too: a long-lived session must not reuse a stage of an older shape.
            stage = f"stage_{zlib.crc32(names.encode()):08x}_{table}"[:63]
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            cursor.execute(f"TRUNCATE {stage}")  # rows of an earlier batch of the same transaction
            _copy(cursor, stage, names, rows)
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}{conflict}")

    def insert_rows(self, table: str, names: str, rows: Sequence[Sequence[Any]], *, using: str) -> None:
        """COPY straight into the table: no conflicts to handle, so no staging table and no merge."""
        with connections[using].cursor() as cursor:
            _copy(cursor, table, names, rows)

    # Rebuilds --------------------------------------------------------------------------

    @contextmanager
    def exclusive(self, key: int, *, using: str) -> Iterator[bool]:
        """A session-level advisory lock: it takes no transaction id (so it holds no reader back) and dies
        with the session, so a killed rebuild never leaves it behind."""
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                yield False
                return
        try:
            yield True
        finally:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
            except Exception:  # the session is gone, and its lock with it
                logger.warning("could not release the advisory lock %s", key, exc_info=True)

    def set_lock_timeout(self, milliseconds: int, *, using: str) -> None:
        with connections[using].cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(milliseconds)}")

    def create_shadow(self, table: str, shadow: str, *, using: str) -> None:
        """A copy with the live table's owner, so a rebuild run by another role leaves the views' owner as it was.

        The app's runtime role owns the views and rebuilds them; an operator rebuilding as
        the tables' owner would otherwise swap in tables the runtime role could not rebuild.
        """
        connection = connections[using]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {quote(shadow)} (LIKE {quote(table)} INCLUDING ALL)")
            cursor.execute(
                "SELECT pg_get_userbyid(relowner), pg_get_userbyid(relowner) = current_user FROM pg_class"
                " WHERE oid = %s::regclass",
                [quote(table)],
            )
            owner, same = cursor.fetchone()
            if not same:
                cursor.execute(f"ALTER TABLE {quote(shadow)} OWNER TO {quote(owner)}")

    def defer_indexes(self, shadow: str, *, using: str) -> list[str]:
        """The primary key and unique or constraint indexes stay: upserts and the table's rules need them."""
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT i.indisunique"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = i.indexrelid) ORDER BY c.relname",
                [connection.ops.quote_name(shadow)],
            )
            indexes = cursor.fetchall()
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
        return [definition for _, definition in indexes]

    def build_indexes(self, definitions: Iterable[str], *, using: str) -> None:
        """With room to sort in memory, and CONCURRENTLY when not in a transaction.

        A plain CREATE INDEX holds a transaction id for the whole build (seconds for a
        trigram GIN index over a million orders), and with it every log reader of the
        cluster; CREATE INDEX CONCURRENTLY builds without one (checked in
        pg_stat_activity), at the price of a second pass over a table nobody else writes.
        """
        definitions = list(definitions)
        if not definitions:
            return
        connection = connections[using]
        with connection.cursor() as cursor:
            if connection.in_atomic_block:
                cursor.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
                for definition in definitions:
                    cursor.execute(definition)
                return
            cursor.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            try:
                for definition in definitions:
                    cursor.execute(_CREATE_INDEX.sub(r"\1CONCURRENTLY ", definition, count=1))
            finally:
                cursor.execute("RESET maintenance_work_mem")

    def swap(self, table: str, shadow: str, old: str, *, using: str) -> None:
        connection = connections[using]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            renames = _index_renames(cursor, table, shadow)
            cursor.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(old)}")
            cursor.execute(f"ALTER TABLE {quote(shadow)} RENAME TO {quote(table)}")
            cursor.execute(f"DROP TABLE {quote(old)}")
            for fresh, original in renames:
                cursor.execute(f"ALTER INDEX {quote(fresh)} RENAME TO {quote(original)}")

    def prepare_reader(self, *, using: str) -> None:
        """Decode jsonb with orjson on the reader's connection: several times faster than json.loads."""
        from psycopg.types.json import set_json_loads

        connection = connections[using]
        connection.ensure_connection()
        set_json_loads(orjson.loads, connection.connection)

    def select_lean_tail(self, after: Checkpoint, limit: int, event_types: list[str], *, using: str) -> list[LeanRow]:
        """Binary results on a server-side-binding cursor: psycopg loads integers and times from the binary
        format in about half the time of Django's text cursor. Payloads stay JSON text."""
        connection = connections[using]
        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(_LEAN_SQL, [*xid(after), event_types, limit], binary=True)
            rows = cursor.fetchall()
        if rows and rows[0][-1].utcoffset():  # Django keeps its sessions in UTC; dates (daily sales) rely on it
            rows = [(*row[:-1], row[-1].astimezone(UTC)) for row in rows]
        return rows


def _copy(cursor: Any, table: str, names: str, rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows in text format; psycopg's C row writer escapes and formats twice as fast as Python code."""
    with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def _index_renames(cursor: Any, table: str, shadow: str) -> list[tuple[str, str]]:
    """Pairs (shadow index, live index) with the same definition, so the live names survive the swap."""
    cursor.execute(
        "SELECT tablename, indexname, indexdef FROM pg_indexes"
        " WHERE schemaname = current_schema() AND tablename IN (%s, %s) ORDER BY indexname",
        [table, shadow],
    )
    live: dict[str, list[str]] = {}
    fresh: list[tuple[str, str]] = []
    for tablename, indexname, indexdef in cursor.fetchall():
        shape = _PG_INDEX_NAME.sub("INDEX ON", indexdef, count=1)
        if tablename == table:
            live.setdefault(shape, []).append(indexname)
        else:
            fresh.append((shape, indexname))
    pairs = []
    for shape, indexname in fresh:
        names = live.get(shape)
        if names:
            pairs.append((indexname, names.pop(0)))
    return pairs

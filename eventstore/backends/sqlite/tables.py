"""SQLite's view writes and rebuild tables: plain multi-row INSERTs, and shadow tables from the stored DDL.

SQLite has no `CREATE TABLE ... LIKE` and no index renames, so a shadow table and its
indexes are re-created from the DDL in `sqlite_master`. Rebuilds here are small
development ones: no advisory lock (one process), no deferred indexes, no read-ahead.
"""

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connections

from eventstore.backends.recorder import LeanRow, Row
from eventstore.backends.standard_sql import insert_values
from eventstore.log.positions import Checkpoint

_TABLE = re.compile(r'^(CREATE\s+TABLE\s+)(?:"[^"]+"|\S+)', re.IGNORECASE)
_INDEX = re.compile(
    r'^(CREATE\s+(?:UNIQUE\s+)?INDEX\s+)(?:IF\s+NOT\s+EXISTS\s+)?(?:"([^"]+)"|(\S+))\s+ON\s+(?:"[^"]+"|\S+)',
    re.IGNORECASE,
)


class SqliteTables:
    native_uuids = False
    full_text_search = False
    prefetches = False
    parallel_rebuilds = False

    def commit_without_flush(self, *, using: str) -> None:
        """The connection already runs `synchronous=NORMAL` (settings)."""

    def fetch_keyed(
        self, table: str, columns: Sequence[str], key: str, keys: Sequence[Any], *, using: str
    ) -> list[Row]:
        marks = ", ".join(["%s"] * len(keys))
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {key} IN ({marks})", list(keys))
            return cursor.fetchall()

    def upsert_rows(self, table: str, names: str, rows: Sequence[Sequence[Any]], conflict: str, *, using: str) -> None:
        with connections[using].cursor() as cursor:
            insert_values(cursor, table, names, rows, conflict)

    def insert_rows(self, table: str, names: str, rows: Sequence[Sequence[Any]], *, using: str) -> None:
        with connections[using].cursor() as cursor:
            insert_values(cursor, table, names, rows)

    @contextmanager
    def exclusive(self, key: int, *, using: str) -> Iterator[bool]:
        """One process in development: nobody to exclude."""
        yield True

    def set_lock_timeout(self, milliseconds: int, *, using: str) -> None:
        """SQLite waits for locks per connection (its `timeout` option), not per transaction."""

    def create_shadow(self, table: str, shadow: str, *, using: str) -> None:
        connection = connections[using]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            table_sql, indexes = _ddl(cursor, table)
            cursor.execute(_TABLE.sub(lambda m: m.group(1) + quote(shadow), table_sql, count=1))
            for name, sql in indexes:
                cursor.execute(_index_sql(quote, sql, name + shadow.removeprefix(table), shadow))

    def defer_indexes(self, shadow: str, *, using: str) -> list[str]:
        return []

    def build_indexes(self, definitions: Iterable[str], *, using: str) -> None:
        """Nothing is deferred on SQLite."""

    def swap(self, table: str, shadow: str, old: str, *, using: str) -> None:
        connection = connections[using]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            _, live_indexes = _ddl(cursor, table)
            _, shadow_indexes = _ddl(cursor, shadow)
            cursor.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(old)}")
            cursor.execute(f"ALTER TABLE {quote(shadow)} RENAME TO {quote(table)}")
            cursor.execute(f"DROP TABLE {quote(old)}")
            for name, _ in shadow_indexes:
                cursor.execute(f"DROP INDEX {quote(name)}")
            for name, sql in live_indexes:
                cursor.execute(_index_sql(quote, sql, name, table))

    def prepare_reader(self, *, using: str) -> None:
        """Nothing to prepare: SQLite is never read ahead (`prefetches` is False)."""

    def select_lean_tail(self, after: Checkpoint, limit: int, event_types: list[str], *, using: str) -> list[LeanRow]:
        raise NotImplementedError("SQLite offers no lean reads (`prefetches` is False)")


def _ddl(cursor: Any, table: str) -> tuple[str, list[tuple[str, str]]]:
    """The CREATE TABLE statement of `table` and its explicit indexes (autoindexes come back by themselves)."""
    cursor.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL", [table])
    rows = cursor.fetchall()
    table_sql = next((sql for kind, _, sql in rows if kind == "table"), None)
    if table_sql is None:
        raise LookupError(f"table {table!r} does not exist")
    return table_sql, [(name, sql) for kind, name, sql in rows if kind == "index"]


def _index_sql(quote: Any, sql: str, index: str, table: str) -> str:
    return _INDEX.sub(lambda m: f"{m.group(1)}{quote(index)} ON {quote(table)}", sql, count=1)

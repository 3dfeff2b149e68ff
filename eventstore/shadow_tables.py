"""Shadow tables for blue/green rebuilds: an empty copy of a view table, swapped in by renames.

A rebuild fills `<table>__shadow` while the live table keeps serving, then renames
live -> old, shadow -> live and drops old in one short transaction. PostgreSQL copies
the live table's shape with `LIKE ... INCLUDING ALL` (columns, defaults, generated
columns, constraints, indexes); index names are global in a schema, so the copy's
indexes get fresh names and are renamed back to the live names after the swap (else
the next rebuild's shadow would collide with them). SQLite has no `LIKE` and no
index renames: the table and its indexes are re-created from their stored DDL.
"""

import re
from typing import Any

SHADOW_SUFFIX = "__shadow"
OLD_SUFFIX = "__old"
MAINTENANCE_WORK_MEM = "256MB"
"""For building a shadow's deferred indexes: a GIN or btree build that sorts in memory is several times faster."""

_SQLITE_TABLE = re.compile(r'^(CREATE\s+TABLE\s+)(?:"[^"]+"|\S+)', re.IGNORECASE)
_SQLITE_INDEX = re.compile(
    r'^(CREATE\s+(?:UNIQUE\s+)?INDEX\s+)(?:IF\s+NOT\s+EXISTS\s+)?(?:"([^"]+)"|(\S+))\s+ON\s+(?:"[^"]+"|\S+)',
    re.IGNORECASE,
)
_PG_INDEX_NAME = re.compile(r"INDEX (\S+) ON (\S+)")
_CREATE_INDEX = re.compile(r"^(CREATE\s+INDEX\s+)", re.IGNORECASE)


def shadow_name(table: str) -> str:
    return f"{table}{SHADOW_SUFFIX}"


def quote(connection: Any, name: str) -> str:
    return connection.ops.quote_name(name)


def drop_table(connection: Any, table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {quote(connection, table)}")


def create_shadow(connection: Any, table: str) -> str:
    """A fresh, empty copy of `table` (a stale one from an interrupted rebuild is dropped)."""
    shadow = shadow_name(table)
    drop_table(connection, shadow)
    drop_table(connection, table + OLD_SUFFIX)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE {quote(connection, shadow)} (LIKE {quote(connection, table)} INCLUDING ALL)")
            _keep_owner(cursor, connection, table, shadow)
            return shadow
        table_sql, indexes = _sqlite_ddl(cursor, table)
        cursor.execute(_SQLITE_TABLE.sub(lambda m: m.group(1) + quote(connection, shadow), table_sql, count=1))
        for name, sql in indexes:
            cursor.execute(_sqlite_index_sql(connection, sql, name + SHADOW_SUFFIX, shadow))
    return shadow


def _keep_owner(cursor: Any, connection: Any, table: str, shadow: str) -> None:
    """Give the shadow the live table's owner, so a rebuild run by another role leaves the views' owner as it was.

    The app's runtime role owns the views and rebuilds them; an operator rebuilding as
    the tables' owner would otherwise swap in tables the runtime role could not rebuild.
    """
    cursor.execute(
        "SELECT pg_get_userbyid(relowner), pg_get_userbyid(relowner) = current_user FROM pg_class"
        " WHERE oid = %s::regclass",
        [quote(connection, table)],
    )
    owner, same = cursor.fetchone()
    if not same:
        cursor.execute(f"ALTER TABLE {quote(connection, shadow)} OWNER TO {quote(connection, owner)}")


def defer_indexes(connection: Any, shadow: str) -> list[str]:
    """Drop the shadow's plain secondary indexes and return their definitions, to build after the fill.

    Building an index once over the filled table costs far less than keeping it up
    batch by batch (a GIN index above all). The primary key and unique or constraint
    indexes stay: upserts and the table's rules need them during the fill. PostgreSQL
    only (SQLite's rebuilds are small development ones).
    """
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT i.indisunique"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = i.indexrelid) ORDER BY c.relname",
            [quote(connection, shadow)],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f"DROP INDEX {quote(connection, name)}")
    return [definition for _, definition in indexes]


def build_indexes(connection: Any, definitions: list[str]) -> None:
    """Create the deferred indexes, with room to sort in memory, and CONCURRENTLY when not in a transaction.

    A plain CREATE INDEX holds a transaction id for the whole build (seconds for a
    trigram GIN index over a million orders), and with it every log reader of the
    cluster; CREATE INDEX CONCURRENTLY builds without one (checked in pg_stat_activity),
    at the price of a second pass over a table nobody else writes.
    """
    if not definitions:
        return
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            for definition in definitions:
                cursor.execute(definition)
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        try:
            for definition in definitions:
                cursor.execute(_CREATE_INDEX.sub(r"\1CONCURRENTLY ", definition, count=1))
        finally:
            cursor.execute("RESET maintenance_work_mem")


def swap(connection: Any, table: str, shadow: str) -> None:
    """Put `shadow` in the place of `table` and drop the old one; run inside the swap transaction."""
    old = table + OLD_SUFFIX
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            renames = _pg_index_renames(cursor, table, shadow)
        else:
            _, live_indexes = _sqlite_ddl(cursor, table)
            _, shadow_indexes = _sqlite_ddl(cursor, shadow)
        cursor.execute(f"ALTER TABLE {quote(connection, table)} RENAME TO {quote(connection, old)}")
        cursor.execute(f"ALTER TABLE {quote(connection, shadow)} RENAME TO {quote(connection, table)}")
        cursor.execute(f"DROP TABLE {quote(connection, old)}")
        if connection.vendor == "postgresql":
            for fresh, original in renames:
                cursor.execute(f"ALTER INDEX {quote(connection, fresh)} RENAME TO {quote(connection, original)}")
            return
        for name, _ in shadow_indexes:
            cursor.execute(f"DROP INDEX {quote(connection, name)}")
        for name, sql in live_indexes:
            cursor.execute(_sqlite_index_sql(connection, sql, name, table))


def _sqlite_ddl(cursor: Any, table: str) -> tuple[str, list[tuple[str, str]]]:
    """The CREATE TABLE statement of `table` and its explicit indexes (autoindexes come back by themselves)."""
    cursor.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL", [table])
    rows = cursor.fetchall()
    table_sql = next((sql for kind, _, sql in rows if kind == "table"), None)
    if table_sql is None:
        raise LookupError(f"table {table!r} does not exist")
    return table_sql, [(name, sql) for kind, name, sql in rows if kind == "index"]


def _sqlite_index_sql(connection: Any, sql: str, index: str, table: str) -> str:
    return _SQLITE_INDEX.sub(
        lambda m: f"{m.group(1)}{quote(connection, index)} ON {quote(connection, table)}", sql, count=1
    )


def _pg_index_renames(cursor: Any, table: str, shadow: str) -> list[tuple[str, str]]:
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

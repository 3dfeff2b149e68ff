"""Set-based reads and writes for projections: one SELECT per batch, one upsert per chunk.

Raw SQL against `target.table(Model)`, never the ORM manager, so the same projection
fills the live tables and a rebuild's shadow tables. Values are adapted the way the
ORM would store them (SQLite keeps UUIDs as hex and times as text), so the ORM reads
back exactly what a projection wrote.
"""

import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from django.db import connections, models, transaction

from eventstore.projections.base import Target

_MAX_PARAMS = 30000  # below SQLite's 32766 and psycopg's 65535 bind parameters
_COPY_FROM_ROWS = 500  # smaller (live) batches: one VALUES statement beats temp-table DDL


def is_postgres(target: Target) -> bool:
    return connections[target.using].vendor == "postgresql"


def db_uuid(target: Target, value: uuid.UUID | str) -> Any:
    value = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    return value if is_postgres(target) else value.hex


def db_time(target: Target, value: datetime | None) -> Any:
    """A datetime as the ORM stores it (aware on PostgreSQL, naive-UTC text on SQLite)."""
    return None if value is None else connections[target.using].ops.adapt_datetimefield_value(value)


def time_adapter(target: Target) -> Callable[[datetime], Any]:
    """`db_time` without the per-call connection lookup, for folds over big batches."""
    return connections[target.using].ops.adapt_datetimefield_value


def db_date(target: Target, value: date) -> Any:
    return connections[target.using].ops.adapt_datefield_value(value)


def db_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def load_json(value: Any) -> Any:
    """jsonb arrives as text (Django registers a text loader), SQLite JSON is text too."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fetch(target: Target, table: str, columns: Sequence[str], key: str, keys: Iterable[Any]) -> list[tuple]:
    """The rows of `table` whose `key` is among `keys`: one query (per 30,000 keys)."""
    keys = list(keys)
    if not keys:
        return []
    rows: list[tuple] = []
    cols = ", ".join(columns)
    with connections[target.using].cursor() as cursor:
        for chunk in _chunks(keys, _MAX_PARAMS):
            if is_postgres(target):
                cursor.execute(f"SELECT {cols} FROM {table} WHERE {key} = ANY(%s)", [list(chunk)])
            else:
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(f"SELECT {cols} FROM {table} WHERE {key} IN ({marks})", list(chunk))
            rows.extend(cursor.fetchall())
    return rows


def upsert(
    target: Target,
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    key: str,
    additive: frozenset[str] = frozenset(),
    money_columns: frozenset[str] = frozenset(),
) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE into `target.table(model)`, set-based.

    On PostgreSQL big batches (a rebuild's) are COPYed (text format, written here) into a temporary
    staging table shaped like the target and merged with one INSERT ... SELECT: a
    multi-row VALUES list or per-column arrays cost more in client-side parameter
    handling than the database spends on the rows (profiled on 20,000-event batches);
    small ones (the live tail's) go as one multi-row VALUES statement.
    Columns in `additive` are added to the stored value (a delta), the others replace it.
    Additive `money_columns` are rounded to cents after the sum: SQLite keeps decimals
    as floats, and without it the sums would depend on how the log was batched.
    """
    if not rows:
        return
    table = target.table(model)
    connection = connections[target.using]
    updates = ", ".join(_update(table, c, c in additive, c in money_columns) for c in columns if c != key)
    tail = f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= _COPY_FROM_ROWS:
            # Named for the columns too: a long-lived session must not reuse a stage of an older shape.
            stage = f"stage_{zlib.crc32(names.encode()):08x}_{table}"[:63]
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            cursor.execute(f"TRUNCATE {stage}")  # rows of an earlier batch of the same transaction
            _copy(cursor, stage, names, rows)
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}{tail}")
            return
        marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for chunk in _chunks(rows, max(1, _MAX_PARAMS // len(columns))):
            cursor.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(chunk))}{tail}",
                [v for row in chunk for v in row],
            )


def insert_fresh(
    target: Target, model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, chunk: int
) -> None:
    """Plain inserts of rows the table cannot hold yet (a blue/green fill's new rows), `chunk` per commit.

    No conflict handling is needed, so on PostgreSQL the rows are COPYed straight into
    the table: no staging table, no merge. Each chunk commits on its own, so a big fill
    never holds a transaction id (and with it every reader of the log) for long.
    """
    table = target.table(model)
    connection = connections[target.using]
    names = ", ".join(columns)
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for part in _chunks(rows, max(1, chunk)):
        with transaction.atomic(using=target.using), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                _copy(cursor, table, names, part)
                continue
            for small in _chunks(part, max(1, _MAX_PARAMS // len(columns))):
                cursor.execute(
                    f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(small))}",
                    [v for row in small for v in row],
                )


def _copy(cursor: Any, table: str, names: str, rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows in text format; psycopg's C row writer escapes and formats twice as fast as Python code."""
    with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        write = copy.write_row
        for row in rows:
            write(row)


def _update(table: str, column: str, additive: bool, money: bool) -> str:
    if not additive:
        return f"{column} = EXCLUDED.{column}"
    total = f"{table}.{column} + EXCLUDED.{column}"
    return f"{column} = ROUND({total}, 2)" if money else f"{column} = {total}"

"""Set-based reads and writes for projections: one SELECT per batch, one upsert per chunk.

Against `target.table(Model)`, never the ORM manager, so the same projection fills
the live tables and a rebuild's shadow tables. Values are adapted the way the ORM
would store them (SQLite keeps UUIDs as hex and times as text), so the ORM reads back
exactly what a projection wrote. The statements themselves are the backend's
(`eventstore.backends.recorder.ViewWriter`): COPY on PostgreSQL, multi-row VALUES on SQLite.
"""

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from django.db import connections, models, transaction

from eventstore.backends import recorder_for
from eventstore.backends.standard_sql import MAX_PARAMS, chunks
from eventstore.projections.base import Target


def native_uuids(target: Target) -> bool:
    """The target's UUID columns take uuid.UUID values (else the ORM's 32-character hex)."""
    return recorder_for(target.using).native_uuids


def db_uuid(target: Target, value: uuid.UUID | str) -> Any:
    value = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    return value if native_uuids(target) else value.hex


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


CENT = Decimal("0.01")


def money(value: Any) -> Decimal:
    """Rounded to cents; through str() so a float is taken as it prints (a Decimal is taken as it is)."""
    return (value if type(value) is Decimal else Decimal(str(value))).quantize(CENT)


def fetch(target: Target, table: str, columns: Sequence[str], key: str, keys: Iterable[Any]) -> list[tuple]:
    """The rows of `table` whose `key` is among `keys`: one query (per 30,000 keys)."""
    keys = list(keys)
    recorder = recorder_for(target.using)
    rows: list[tuple] = []
    for chunk in chunks(keys, MAX_PARAMS):
        rows.extend(recorder.fetch_keyed(table, columns, key, chunk, using=target.using))
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

    Columns in `additive` are added to the stored value (a delta), the others replace it.
    Additive `money_columns` are rounded to cents after the sum: SQLite keeps decimals
    as floats, and without it the sums would depend on how the log was batched.
    """
    if not rows:
        return
    table = target.table(model)
    updates = ", ".join(_update(table, c, c in additive, c in money_columns) for c in columns if c != key)
    conflict = f" ON CONFLICT ({key}) DO UPDATE SET {updates}"
    recorder_for(target.using).upsert_rows(table, ", ".join(columns), rows, conflict, using=target.using)


def insert_fresh(
    target: Target, model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], *, chunk: int
) -> None:
    """Plain inserts of rows the table cannot hold yet (a blue/green fill's new rows), `chunk` per commit.

    No conflict handling is needed, so the backend may use its fastest way in (COPY on
    PostgreSQL). Each chunk commits on its own, so a big fill never holds a
    transaction id (and with it every reader of the log) for long.
    """
    table = target.table(model)
    recorder = recorder_for(target.using)
    names = ", ".join(columns)
    for part in chunks(rows, max(1, chunk)):
        with transaction.atomic(using=target.using):
            recorder.insert_rows(table, names, part, using=target.using)


def _update(table: str, column: str, additive: bool, money: bool) -> str:
    if not additive:
        return f"{column} = EXCLUDED.{column}"
    total = f"{table}.{column} + EXCLUDED.{column}"
    return f"{column} = ROUND({total}, 2)" if money else f"{column} = {total}"

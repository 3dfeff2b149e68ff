"""Statements on a command's hot path, prepared once per connection, without Django's cursor wrappers.

Planning the store's statements (the append, an order's product load) costs the server
more than running them, and Django's cursor wrappers cost more Python than the call.
So they run on a bare server-side-binding psycopg cursor with explicit preparation, and
the standalone append in one libpq call (bench/append.py and bench/commands.py measure both).
"""

import functools
import itertools
import re
from collections.abc import Sequence
from typing import Any, Final

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import pq

ONLY_EXPLICIT_PREPARE: Final = 2**31
"""A psycopg prepare threshold no statement reaches: only `execute(..., prepare=True)` prepares."""


def prepared_cursor(connection: BaseDatabaseWrapper) -> psycopg.Cursor:
    """The connection's bare psycopg cursor; run statements on it with `execute(sql, params, prepare=True)`.

    Django switches psycopg's automatic preparation off for the sake of transaction
    poolers; it is switched on here for explicit `prepare=True` only, so Django's own
    client-side cursors are unaffected. Behind PgBouncer in transaction mode set
    `max_prepared_statements` (PgBouncer 1.21+). The cursor is kept with the
    connection (one per thread, like Django's connections): making one per append costs
    a noticeable share of the store's Python (bench/append.py). Statements run in the caller's
    transaction, if any, like Django's own cursors.
    """
    if connection.connection is None:
        connection.ensure_connection()
    connection.validate_no_broken_transaction()
    raw = connection.connection
    cursor = getattr(connection, "_eventstore_cursor", None)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        if raw.prepare_threshold is None:
            raw.prepare_threshold = ONLY_EXPLICIT_PREPARE
        # Kept on Django's wrapper so it lives and dies with the connection; Django declares no such attribute.
        cursor = connection._eventstore_cursor = psycopg.Cursor(raw)  # type: ignore[attr-defined]
    return cursor


_statement_numbers = itertools.count()
_MISSING_STATEMENT: Final = b"26000"
"""invalid_sql_statement_name: the server forgot a prepared statement (`DISCARD ALL`, a pooler)."""


def execute_alone(connection: BaseDatabaseWrapper, sql: str, params: Sequence[object]) -> list[tuple[str | None, ...]]:
    """Run one statement outside any transaction in a single libpq call; its rows as text.

    For the store's standalone append, the hot path of every command. psycopg's cursor
    steps a Python generator through each round trip and takes the GIL back at every
    step; with writer threads in one process that contention, not the database, bounds
    throughput (bench/append.py measures it). `PQexecPrepared` (psycopg's documented
    `pq` layer) sends, waits and receives with the GIL released, in a fraction of the
    Python. Only valid where psycopg has nothing to do
    around the statement: autocommit, no transaction to open (the caller checks), and
    text parameters and results, which the store's statements are written for.
    Errors are psycopg's own classes, raised through Django's wrapper like any query's.
    """
    if connection.connection is None:
        connection.ensure_connection()
    raw = connection.connection
    pgconn = raw.pgconn
    names = _statement_names(connection, raw)
    values = [None if value is None else str(value).encode() for value in params]
    with connection.wrap_database_errors:
        result = _exec_prepared(pgconn, names, sql, values)
        if result.status == pq.ExecStatus.FATAL_ERROR and result.error_field(pq.DiagnosticField.SQLSTATE) == (
            _MISSING_STATEMENT
        ):
            names.clear()
            result = _exec_prepared(pgconn, names, sql, values)
        if result.status != pq.ExecStatus.TUPLES_OK:
            if pgconn.status == pq.ConnStatus.BAD:  # as psycopg's cursor says it: the connection is gone
                raise psycopg.OperationalError(result.get_error_message(raw.info.encoding) or "the connection is lost")
            raise psycopg.errors.error_from_result(result, encoding=raw.info.encoding)
    return _text_rows(result, raw.info.encoding)


def _text_rows(result: Any, encoding: str) -> list[tuple[str | None, ...]]:
    def text(value: Any) -> str | None:
        return None if value is None else bytes(value).decode(encoding)

    columns = range(result.nfields)
    return [tuple(text(result.get_value(row, col)) for col in columns) for row in range(result.ntuples)]


def _statement_names(connection: BaseDatabaseWrapper, raw: psycopg.Connection) -> dict[str, bytes]:
    """The statements prepared through `execute_alone` on this (physical) connection, by SQL text."""
    cached = getattr(connection, "_eventstore_statements", None)
    if cached is None or cached[0] is not raw:
        cached = connection._eventstore_statements = (raw, {})  # type: ignore[attr-defined]  # as the cursor above
    return cached[1]


def _exec_prepared(pgconn: pq.abc.PGconn, names: dict[str, bytes], sql: str, values: list[bytes | None]) -> Any:
    name = names.get(sql)
    if name is None:
        name = f"eventstore_{next(_statement_numbers)}".encode()  # never reused, even after a forgetting
        prepared = pgconn.prepare(name, _numbered_placeholders(sql).encode())
        if prepared.status != pq.ExecStatus.COMMAND_OK:
            return prepared
        names[sql] = name
    # None is SQL NULL: libpq takes it and psycopg passes it itself, but its stub lists only bytes.
    return pgconn.exec_prepared(name, values)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=64)
def _numbered_placeholders(sql: str) -> str:
    """`%s` → `$1`, `$2`, …: libpq's placeholders (the store's statements hold no other `%`)."""
    counter = itertools.count(1)
    return re.sub(r"%s", lambda _: f"${next(counter)}", sql)

"""Statements on a command's hot path, prepared once per connection, without Django's cursor wrappers.

Planning the store's statements (the append, an order's product load) costs the server
more than running them, and Django's cursor wrappers cost more Python than the call.
So they run on a bare server-side-binding psycopg cursor with explicit preparation
(bench/commands.py measures what that is worth, with the server switched to Django's cursor).
"""

from typing import Final

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper

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

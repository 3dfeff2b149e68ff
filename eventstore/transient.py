"""Which database errors are the database's passing trouble rather than a bug: `is_transient`.

A projection is marked `failed` only for an error of its own code on a given event
(DESIGN.md, Read side); the same event applied again later fails again, so stopping
there is right. A lost connection, a statement or lock timeout, a deadlock or a
serialization failure say nothing about the event: the same work succeeds once the
database is back or the other transaction has gone, so the runner retries those with
backoff and never fails a projection for them. The write side maps the same errors,
raised before its commit, to 503 (try again) instead of 500.
"""

import sqlite3
from collections.abc import Iterator

import psycopg
from django.db import utils as django_db

TRANSIENT_SQLSTATES = frozenset(
    {
        "40001",  # serialization_failure: the other transaction won; the same work may succeed now
        "40P01",  # deadlock_detected: PostgreSQL cancelled us to break a cycle
        "55P03",  # lock_not_available: lock_timeout (or NOWAIT) while another transaction held the lock
        "57014",  # query_canceled: statement_timeout, or pg_cancel_backend
        "57P01",  # admin_shutdown: pg_terminate_backend, or a fast shutdown
        "57P02",  # crash_shutdown: another backend crashed and the server is restarting
        "57P03",  # cannot_connect_now: the server is starting up or shutting down
        "57P05",  # idle_session_timeout: the server closed an idle connection
        "25P03",  # idle_in_transaction_session_timeout: the server closed the connection
        "53300",  # too_many_connections: during a reconnect storm after a restart
    }
)
"""SQLSTATEs that name a passing condition (PostgreSQL appendix A), besides class 08 below."""

CONNECTION_EXCEPTION_CLASS = "08"
"""SQLSTATE class 08, connection exception: the connection failed or does not exist."""

_SQLITE_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED: SQLite's lock timeout


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or an error it was raised from) is a passing database condition.

    Retrying the same work later can succeed: a lost or refused connection (psycopg's
    OperationalError without a SQLSTATE, and Django's OperationalError/InterfaceError
    wrapping one), a server that terminated the session (57P01-57P03), a connection
    exception (class 08), a serialization failure (40001), a deadlock (40P01), a lock
    timeout (55P03) and a statement timeout or cancel (57014); on SQLite, a database
    that stayed locked. Everything else is False: a constraint violation, a syntax
    error, a missing table or a KeyError in a projection are the same on every try.

    The chain of `__cause__` / `__context__` is walked because Django wraps the driver's
    error (`raise ... from`), and code may re-raise one as its own; an exception raised
    `from None` has said its context is irrelevant, so that context is not followed.
    """
    return any(_is_transient_one(link) for link in _chain(exc))


def sqlstates(exc: BaseException) -> list[str]:
    """The SQLSTATEs found along the exception's chain (the same links `is_transient` looks at)."""
    found = [getattr(link, "sqlstate", None) or getattr(link, "pgcode", None) for link in _chain(exc)]
    return [code for code in found if isinstance(code, str) and code]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if current.__cause__ is not None:
            current = current.__cause__
        elif not current.__suppress_context__:
            current = current.__context__
        else:
            current = None


def _is_transient_one(exc: BaseException) -> bool:
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate in TRANSIENT_SQLSTATES or sqlstate.startswith(CONNECTION_EXCEPTION_CLASS)
    if isinstance(exc, psycopg.OperationalError):
        # No SQLSTATE: the error did not come from the server but from the connection
        # itself: lost ("server closed the connection unexpectedly", "connection socket
        # closed"), closed, refused or timed out while connecting.
        return True
    if isinstance(exc, psycopg.InterfaceError | django_db.InterfaceError):
        # A call on a connection that is closed or not ready; other interface errors
        # (a closed cursor, a missing adapter) are misuse, the same on every try.
        return "connection" in str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_BUSY_CODES
        return "database is locked" in str(exc) or "database table is locked" in str(exc)
    return False

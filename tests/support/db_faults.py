"""Database faults for tests: terminate the app's backends, hold the view tables locked.

Every helper works on the *test* databases of this run only (their names come from
Django's connections), through a connection to the cluster's `postgres` database, so
the connection doing the killing is never among the killed and other runs sharing the
cluster are left alone.
"""

import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.db import connections
from psycopg import sql

from eventstore.projections.base import all_projections
from eventstore.routers import read_db_alias
from tests.support.processes import database_url


def run_database_names() -> list[str]:
    """The databases of this test run: default and, when separate, read."""
    return list(dict.fromkeys(connections[alias].settings_dict["NAME"] for alias in ("default", read_db_alias())))


def maintenance_url() -> str:
    """The `postgres` database of the cluster the tests use."""
    parts = urlsplit(database_url("default"))
    return urlunsplit(parts._replace(path="/postgres"))


@contextmanager
def maintenance_connection() -> Iterator[psycopg.Connection]:
    with psycopg.connect(maintenance_url(), autocommit=True) as conn:
        yield conn


def backend_pids(conn: psycopg.Connection, databases: Iterable[str] | None = None) -> list[int]:
    """Client backends connected to the test databases (or to `databases`), the caller's own excepted."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND backend_type = 'client backend'"
        " AND pid <> pg_backend_pid() ORDER BY pid",
        [list(databases or run_database_names())],
    ).fetchall()
    return [pid for (pid,) in rows]


def terminate_all_backends(*, last: Collection[int] = (), timeout: float = 10.0) -> list[int]:
    """`pg_terminate_backend` on every backend of the test databases; returns once all of them are gone.

    The backends in `last` are terminated after all the others have gone: the session
    holding the locks that keep runners waiting mid-batch must outlive them, or a waiter
    could take the lock and commit before its own termination reaches it.

    The test process's own Django connections are among them: call
    `connections.close_all()` afterwards (the test client does not, unlike a real request).
    """
    with maintenance_connection() as conn:
        pids = backend_pids(conn)
        first = [pid for pid in pids if pid not in last]
        for group in (first, [pid for pid in pids if pid in last]):
            for pid in group:
                conn.execute("SELECT pg_terminate_backend(%s)", [pid])
            deadline = time.monotonic() + timeout
            while set(group) & set(backend_pids(conn)):
                assert time.monotonic() < deadline, "terminated backends are still there"
                time.sleep(0.005)
    return pids


@contextmanager
def connections_refused() -> Iterator[None]:
    """The test databases refuse every new connection (ALLOW_CONNECTIONS false) until the block ends.

    With `terminate_all_backends` inside, that is a database that went away for a while:
    each reconnect attempt meanwhile fails, as during a restart or a failover.
    """
    names = run_database_names()
    with maintenance_connection() as conn:
        for name in names:
            conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        try:
            yield
        finally:
            for name in names:
                conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(sql.Identifier(name)))


def view_tables() -> list[str]:
    """The live tables of every registered projection."""
    return sorted({model._meta.db_table for projection in all_projections() for model in projection.models})


@contextmanager
def views_locked() -> Iterator[psycopg.Connection]:
    """Hold SHARE locks on every view table, so a runner writing a batch waits mid-transaction.

    The runner has locked its checkpoint row and read the batch from the log by then: a
    fault injected while it waits hits a catch-up in the middle of its work. Leaving the
    block releases the locks (if a fault has not already ended the locking session).
    SHARE blocks writes only, and takes no transaction id: an ACCESS EXCLUSIVE lock would
    (it is WAL-logged), and an open transaction id hides newer events from every reader
    of the log (DESIGN.md), so the runners would never get to the write.
    """
    conn = psycopg.connect(database_url(read_db_alias()))
    try:
        tables = sql.SQL(", ").join(sql.Identifier(table) for table in view_tables())
        conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(tables))
        yield conn
    finally:
        with suppress(psycopg.Error):  # terminated with the others
            conn.rollback()
        conn.close()


def wait_for_lock_waiters(count: int, timeout: float = 30.0) -> list[int]:
    """Wait until `count` backends of the read database are waiting for a lock; returns their pids."""
    read_db = connections[read_db_alias()].settings_dict["NAME"]
    deadline = time.monotonic() + timeout
    with maintenance_connection() as conn:
        while True:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [read_db]
            ).fetchall()
            if len(rows) >= count:
                return [pid for (pid,) in rows]
            assert time.monotonic() < deadline, f"{len(rows)} of {count} runners waiting on the view locks"
            time.sleep(0.02)


def listener_pids(channel: str) -> list[int]:
    """Backends of the test databases whose last statement was a LISTEN on `channel`."""
    with maintenance_connection() as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND query ILIKE %s",
            [run_database_names(), f"LISTEN {channel}%"],
        ).fetchall()
    return [pid for (pid,) in rows]

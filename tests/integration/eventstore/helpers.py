"""Helpers for the store's integration tests."""

import time

from django.db import DEFAULT_DB_ALIAS, connections


def settle(using: str = DEFAULT_DB_ALIAS, timeout: float = 60.0) -> None:
    """Wait until every transaction running now, in any database of the cluster, has ended.

    On PostgreSQL `read_all` only returns events below the oldest running transaction
    id, and another session (any database on the server, e.g. a parallel test run) may
    hold it back for a moment after our commit. Waiting for that is part of the
    contract, not a race in the test; on SQLite there is nothing to wait for.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
        horizon = cursor.fetchone()[0]
        deadline = time.monotonic() + timeout
        while True:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot()) >= %s::xid8", [horizon])
            if cursor.fetchone()[0]:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"a transaction older than xid {horizon} is still running")
            time.sleep(0.005)

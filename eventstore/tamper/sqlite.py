"""The event hash as a SQLite function, for the trigger that chains every insert (migration 0003).

SQLite cannot hash or canonicalize JSON in SQL, so each connection gets the Python
definition (`eventstore.tamper.canonical`) as `eventstore_event_hash(...)`. A
connection without it (the sqlite3 shell) cannot insert events, which is the point:
no event enters the log unchained.
"""

from typing import Any

from eventstore.tamper.canonical import event_hash


def install_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Receiver of `connection_created`."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function("eventstore_event_hash", 8, event_hash, deterministic=True)

"""SQLite connection setup: the functions the event table's triggers call.

`eventstore_allow_purge()` always answers 0: the append-only triggers of migrations
0002-0004 consult it, and since 0006 no trigger does, but migrating an older database
still runs them. SQLite cannot hash or canonicalize JSON in SQL, so each connection gets
the Python definition (`eventstore.tamper.canonical`) as `eventstore_event_hash(...)`
for the trigger that chains every insert. A connection without them (the sqlite3
shell) cannot insert events, which is the point: no event enters the log unchained.
"""

from typing import Any

from eventstore.tamper.canonical import event_hash


def install_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Receiver of `connection_created` (for every database: only SQLite's connections need them)."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function("eventstore_allow_purge", 0, lambda: 0, deterministic=True)
    connection.connection.create_function("eventstore_event_hash", 8, event_hash, deterministic=True)

"""SQLite connection setup: the functions the event table's triggers call (migrations 0002 and 0003).

SQLite triggers cannot read session settings, so the escape hatch the test runner
needs to empty its database is a function, `eventstore_allow_purge()`: it answers 1
only when the EVENTSTORE_ALLOW_PURGE setting is on (test settings), and 0 everywhere
else. SQLite cannot hash or canonicalize JSON in SQL either, so each connection gets
the Python definition (`eventstore.tamper.canonical`) as `eventstore_event_hash(...)`
for the trigger that chains every insert. A connection without them (the sqlite3
shell) cannot insert events, which is the point: no event enters the log unchained.
"""

from typing import Any

from django.conf import settings

from eventstore.tamper.canonical import event_hash


def install_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Receiver of `connection_created` (for every database: only SQLite's connections need them)."""
    if connection.vendor != "sqlite":
        return
    allowed = 1 if getattr(settings, "EVENTSTORE_ALLOW_PURGE", False) else 0
    connection.connection.create_function("eventstore_allow_purge", 0, lambda: allowed, deterministic=True)
    connection.connection.create_function("eventstore_event_hash", 8, event_hash, deterministic=True)

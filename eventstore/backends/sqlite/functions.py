"""SQLite connection setup: the function the append-only triggers consult.

SQLite triggers cannot read session settings, so the escape hatch the test runner
needs to empty its database is a function; it answers 1 only when the
EVENTSTORE_ALLOW_PURGE setting is on (test settings), and 0 everywhere else.
"""

from typing import Any

from django.conf import settings


def install_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Receiver of `connection_created`."""
    if connection.vendor != "sqlite":
        return
    allowed = 1 if getattr(settings, "EVENTSTORE_ALLOW_PURGE", False) else 0
    connection.connection.create_function("eventstore_allow_purge", 0, lambda: allowed, deterministic=True)

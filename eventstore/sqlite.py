"""SQLite connection setup: the function the append-only triggers of migrations 0002-0004 consult.

Those triggers let a connection through whose `eventstore_allow_purge()` answered 1;
since 0005 no trigger asks, but migrating an older database still runs them, so the
function stays registered and always answers 0.
"""

from typing import Any


def install_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Receiver of `connection_created`."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_function("eventstore_allow_purge", 0, lambda: 0, deterministic=True)

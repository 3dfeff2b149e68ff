"""The databases the event store runs on, one backend each; `recorder_for` picks a connection's.

The only place that asks a connection which database it is: everything above works
through the protocols of `eventstore.backends.recorder`.
"""

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from eventstore.backends.postgres.backend import PostgresBackend
from eventstore.backends.recorder import Backend
from eventstore.backends.sqlite.backend import SqliteBackend

_BACKENDS: dict[str, Backend] = {"postgresql": PostgresBackend(), "sqlite": SqliteBackend()}


def recorder_for(using: str) -> Backend:
    """The backend of the database behind the alias `using`."""
    return backend_of(connections[using])


def backend_of(connection: BaseDatabaseWrapper) -> Backend:
    """The backend of a connection (a model field compiles for one, not for an alias)."""
    vendor = connection.vendor
    try:
        return _BACKENDS[vendor]
    except KeyError:
        raise NotImplementedError(f"the event store does not run on {vendor!r}") from None

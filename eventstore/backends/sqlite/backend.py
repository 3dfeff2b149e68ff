"""SQLite, for development and the quick test pass: the recorder (`log`), view and rebuild tables, tamper evidence."""

from eventstore.backends.sqlite.log import SqliteLog
from eventstore.backends.sqlite.tables import SqliteTables
from eventstore.backends.sqlite.tamper import SqliteTamper


class SqliteBackend(SqliteLog, SqliteTables, SqliteTamper):
    """Every `eventstore.backends.recorder.Backend` method, on SQLite 3.35+ (RETURNING)."""

"""SQLite, for development and the quick test pass: the recorder (`log`) and the view and rebuild tables."""

from eventstore.backends.sqlite.log import SqliteLog
from eventstore.backends.sqlite.tables import SqliteTables


class SqliteBackend(SqliteLog, SqliteTables):
    """Every `eventstore.backends.recorder.Backend` method, on SQLite 3.35+ (RETURNING)."""

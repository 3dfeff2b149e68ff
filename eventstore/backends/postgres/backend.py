"""PostgreSQL, the production database: the recorder (`log`) and the view and rebuild tables (`tables`)."""

from eventstore.backends.postgres.log import PostgresLog
from eventstore.backends.postgres.tables import PostgresTables


class PostgresBackend(PostgresLog, PostgresTables):
    """Every `eventstore.backends.recorder.Backend` method, on PostgreSQL 15+."""

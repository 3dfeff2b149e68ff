"""PostgreSQL, the production database: the recorder (`log`), view and rebuild tables (`tables`), tamper evidence."""

from eventstore.backends.postgres.log import PostgresLog
from eventstore.backends.postgres.tables import PostgresTables
from eventstore.backends.postgres.tamper import PostgresTamper


class PostgresBackend(PostgresLog, PostgresTables, PostgresTamper):
    """Every `eventstore.backends.recorder.Backend` method, on PostgreSQL 15+."""

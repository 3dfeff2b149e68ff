"""The `transaction_id` column: PostgreSQL's xid8 of the writing transaction.

Readers order the log by (transaction_id, position) and only take events whose
transaction is older than every still-running one, so no event is ever skipped
(DESIGN.md, "No event is ever skipped by a reader"). SQLite serializes writers, so
there the column is a constant 0 and the order degenerates to the position.
"""

from typing import Any

from django.db import models

from eventstore.backends import backend_of


class CurrentTransactionId(models.Func):
    """`pg_current_xact_id()` on PostgreSQL, `0` elsewhere; used as a db_default."""

    output_field = models.BigIntegerField()

    # Django's Func.as_sql returns its params as a list (the stubs say tuple) and takes more keywords.
    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:  # type: ignore[override]
        return "0", []

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return "pg_current_xact_id()", []


class Xid8Field(models.BigIntegerField):
    """A 64-bit transaction id: `xid8` on PostgreSQL, an integer elsewhere.

    Values cross the wire as text (`::text`, then int) because psycopg has no
    xid8 loader and integers cannot be cast to xid8 directly.
    """

    description = "64-bit transaction id"

    def db_type(self, connection: Any) -> str | None:
        return backend_of(connection).transaction_id_type or super().db_type(connection)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> int | None:
        return None if value is None else int(value)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None or not backend_of(connection).transaction_id_as_text:
            return super().get_db_prep_value(value, connection, prepared)
        return str(int(value))

"""A view's row by primary key, read by a statement built once per connection instead of a queryset per request.

A detail read is one primary-key lookup, and building and compiling
`Model.objects.get(pk=...)` costs the web worker several times the CPU of running it.
`by_key` answers as `get` does: the same statement shape (every concrete column, the
key compared with the value the ORM would send), the same converters on each value
(the backend's and the field's, as the compiler applies them) and the same model
instance (`Model.from_db`, so its state says which database it came from); only the
SQL is written once, from the model's own metadata. A missing row is None.
"""

import weakref
from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import Model

from config.model_rows import ModelRow

M = TypeVar("M", bound=Model)


def by_key(model: type[M], key: Any) -> M | None:
    """The row of `model` whose primary key is `key`, as `model.objects.get(pk=key)` finds it; None if none."""
    alias = router.db_for_read(model)
    connection = connections[alias]
    statements = _statements.get(connection)
    if statements is None:
        statements = _statements.setdefault(connection, {})
    statement = statements.get(model)
    if statement is None:
        statement = statements[model] = _Statement(model, connection)
    param = model._meta.pk.get_db_prep_value(key, connection, prepared=False)  # what the lookup would send
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, [param])
        row = cursor.fetchone()
    return None if row is None else statement.build(alias, row)


class _Statement:
    """The SELECT of one model's concrete columns by key, and how its row becomes the instance."""

    def __init__(self, model: type[Model], connection: Any) -> None:
        quote = connection.ops.quote_name
        table = model._meta.db_table
        self.row = ModelRow(model, table, connection)
        pk_column = f"{quote(table)}.{quote(model._meta.pk.column)}"
        self.sql = f"SELECT {self.row.columns()} FROM {quote(table)} WHERE {pk_column} = %s"

    def build(self, alias: str, row: Any) -> Any:
        return self.row.build(alias, row)


_statements: "weakref.WeakKeyDictionary[Any, dict[type[Model], _Statement]]" = weakref.WeakKeyDictionary()
"""Per connection object: Django keeps one per thread and alias, and the converters are
bound to that connection's own operations."""

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
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import Model

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]


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
        fields = list(model._meta.concrete_fields)
        columns = ", ".join(f"{quote(table)}.{quote(f.column)}" for f in fields)
        pk = model._meta.pk
        self.sql = f"SELECT {columns} FROM {quote(table)} WHERE {quote(table)}.{quote(pk.column)} = %s"
        self.model = model
        self.names = [f.attname for f in fields]
        self.converters: list[tuple[int, Any, list[Converter]]] = []
        for index, field in enumerate(fields):
            column = field.get_col(table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                self.converters.append((index, column, converters))
        self.connection = connection

    def build(self, alias: str, row: Any) -> Any:
        values = list(row)
        for index, column, converters in self.converters:
            for convert in converters:
                values[index] = convert(values[index], column, self.connection)
        return self.model.from_db(alias, self.names, values)


_statements: "weakref.WeakKeyDictionary[Any, dict[type[Model], _Statement]]" = weakref.WeakKeyDictionary()
"""Per connection object: Django keeps one per thread and alias, and the converters are
bound to that connection's own operations."""

"""A model instance from a raw row, built as the ORM's compiler builds it.

Hot paths that run one hand-written SELECT instead of a queryset compiled per request
(token authentication, a view's row by key) still answer with the ORM's own instance:
the backend's and each field's converters applied to every value, then `Model.from_db`,
so the instance's state says which database it came from.
"""

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Field, Model

Converter = Callable[[Any, Any, Any], Any]


class ModelRow:
    """One model's concrete columns, as `table_alias.column` in a SELECT, and how they become the instance."""

    def __init__(self, model: type[Model], table_alias: str, connection: Any) -> None:
        self.model = model
        self.alias = table_alias
        self.fields: list[Field[Any, Any]] = list(model._meta.concrete_fields)
        self.names = [f.attname for f in self.fields]
        self.converters: list[tuple[int, Any, list[Converter]]] = []
        for index, field in enumerate(self.fields):
            column = field.get_col(table_alias)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                self.converters.append((index, column, converters))
        self.connection = connection

    def columns(self) -> str:
        """The SELECT list of the model's concrete columns, qualified by the table alias."""
        quote = self.connection.ops.quote_name
        return ", ".join(f"{quote(self.alias)}.{quote(f.column)}" for f in self.fields)

    def build(self, db_alias: str, values: Sequence[Any]) -> Any:
        """The instance `values` (in `columns()` order) make, read from the database `db_alias`."""
        converted = list(values)
        for index, column, converters in self.converters:
            for convert in converters:
                converted[index] = convert(converted[index], column, self.connection)
        return self.model.from_db(db_alias, self.names, converted)

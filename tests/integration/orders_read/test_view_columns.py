"""The migrated view tables on PostgreSQL have the column types their (unmanaged) models declare.

Nothing else ties them: the migration state has no fields for unmanaged models, so a
model widened without its migration would pass every SQLite test and overflow here.
"""

import pytest
from django.db import connections, models

from eventstore.routers import read_db_alias
from orders_read.models import VIEW_MODELS

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases="__all__")]


def declared(field: models.Field) -> tuple[str, int | None, int | None]:
    if isinstance(field, models.BigIntegerField):
        return ("bigint", 64, 0)
    if isinstance(field, models.IntegerField):
        return ("integer", 32, 0)
    return ("numeric", field.max_digits, field.decimal_places)


@pytest.mark.parametrize("model", VIEW_MODELS, ids=lambda m: m.__name__)
def test_numeric_columns_are_as_wide_as_the_model_says(model: type[models.Model]) -> None:
    fields = [f for f in model._meta.get_fields() if isinstance(f, models.IntegerField | models.DecimalField)]
    with connections[read_db_alias()].cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s",
            [model._meta.db_table],
        )
        actual = {name: (kind, precision, scale) for name, kind, precision, scale in cursor.fetchall()}
    assert fields
    for field in fields:
        assert actual[field.column] == declared(field), field.column

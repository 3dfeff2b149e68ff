"""Widen the view columns to what commands can build up (orders_read/models.py, orders_write/limits.py).

The models are unmanaged, so the migration state has no fields to alter: on
PostgreSQL the live tables are altered here (the next rebuild's shadow tables copy
their shape). SQLite's column types are affinities without a size; nothing to do.
"""

from django.db import migrations

WIDEN = [
    "ALTER TABLE orders_read_order_summary ALTER COLUMN total_amount TYPE numeric(15, 2)",
    "ALTER TABLE orders_read_daily_sales"
    " ALTER COLUMN orders TYPE bigint, ALTER COLUMN units TYPE bigint,"
    " ALTER COLUMN cancelled TYPE bigint, ALTER COLUMN revenue TYPE numeric(26, 2)",
]
NARROW = [
    "ALTER TABLE orders_read_order_summary ALTER COLUMN total_amount TYPE numeric(14, 2)",
    "ALTER TABLE orders_read_daily_sales"
    " ALTER COLUMN orders TYPE integer, ALTER COLUMN units TYPE integer,"
    " ALTER COLUMN cancelled TYPE integer, ALTER COLUMN revenue TYPE numeric(16, 2)",
]


def _run(statements: list[str]):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("orders_read", "0002_view_names"),
    ]

    operations = [migrations.RunPython(_run(WIDEN), _run(NARROW))]

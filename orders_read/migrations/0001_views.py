"""Create the view tables (unmanaged models: the projections own them) and their PostgreSQL extras.

The tables are created from the historical models, so their columns and indexes are
exactly the models'. PostgreSQL also gets what the ORM cannot declare: the catalogue's
STORED generated tsvector with a GIN index (full-text search), and trigram GIN and
pattern indexes for the order search (substring of customer/sku/name, id prefix).
"""

from django.db import migrations, models

VIEWS = ("DailySales", "OrderSummary", "ProductView")

PG_EXTRAS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE orders_read_product ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    " to_tsvector('simple', coalesce(sku, '') || ' ' || coalesce(name, '') || ' ' || coalesce(description, ''))"
    ") STORED",
    "CREATE INDEX orp_search ON orders_read_product USING gin (search_vector)",
    "CREATE INDEX ors_search_trgm ON orders_read_order_summary USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX ors_key_prefix ON orders_read_order_summary (order_key varchar_pattern_ops)",
]


def create_tables(apps, schema_editor):
    for name in VIEWS:
        model = apps.get_model("orders_read", name)
        schema_editor.create_model(model)
        for index in model._meta.indexes:  # create_model() leaves them out for unmanaged models
            schema_editor.add_index(model, index)
    if schema_editor.connection.vendor == "postgresql":
        for sql in PG_EXTRAS:
            schema_editor.execute(sql)
    else:
        schema_editor.execute("CREATE INDEX ors_key_prefix ON orders_read_order_summary (order_key)")


def drop_tables(apps, schema_editor):
    for name in VIEWS:
        schema_editor.delete_model(apps.get_model("orders_read", name))


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="DailySales",
            fields=[
                ("date", models.DateField(primary_key=True, serialize=False)),
                ("orders", models.IntegerField(default=0)),
                ("units", models.IntegerField(default=0)),
                ("revenue", models.DecimalField(decimal_places=2, default=0, max_digits=16)),
                ("cancelled", models.IntegerField(default=0)),
            ],
            options={
                "db_table": "orders_read_daily_sales",
                "abstract": False,
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="OrderSummary",
            fields=[
                ("order_id", models.UUIDField(primary_key=True, serialize=False)),
                ("order_key", models.CharField(help_text="the id as text, for id-prefix search", max_length=36)),
                ("customer_id", models.CharField(max_length=150)),
                ("status", models.CharField(max_length=16)),
                ("items", models.JSONField(default=list)),
                ("item_count", models.IntegerField(default=0)),
                ("total_amount", models.DecimalField(decimal_places=2, max_digits=14)),
                ("shipping_address", models.JSONField(default=dict)),
                ("created_at", models.DateTimeField()),
                ("shipped_at", models.DateTimeField(null=True)),
                ("cancelled_at", models.DateTimeField(null=True)),
                ("cancel_reason", models.TextField(default="")),
                ("cancelled_by", models.CharField(default="", max_length=150)),
                ("version", models.IntegerField()),
                ("search_text", models.TextField(default="", help_text="lower-cased customer, line skus and names")),
            ],
            options={
                "db_table": "orders_read_order_summary",
                "indexes": [
                    models.Index(fields=["customer_id", "created_at"], name="ors_customer_created"),
                    models.Index(fields=["status", "created_at"], name="ors_status_created"),
                    models.Index(fields=["total_amount"], name="ors_total"),
                    models.Index(fields=["created_at"], name="ors_created"),
                ],
                "abstract": False,
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="ProductView",
            fields=[
                ("product_id", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("sku", models.CharField(max_length=64)),
                ("name", models.CharField(max_length=255)),
                ("description", models.TextField(default="")),
                ("price", models.DecimalField(decimal_places=2, max_digits=12)),
                ("on_hand", models.IntegerField(default=0)),
                ("reserved", models.IntegerField(default=0)),
                ("available", models.IntegerField(default=0)),
                ("version", models.IntegerField()),
            ],
            options={
                "db_table": "orders_read_product",
                "indexes": [
                    models.Index(fields=["name"], name="orp_name"),
                    models.Index(fields=["price"], name="orp_price"),
                    models.Index(fields=["available"], name="orp_available"),
                ],
                "abstract": False,
                "managed": False,
            },
        ),
        migrations.RunPython(create_tables, drop_tables),
    ]

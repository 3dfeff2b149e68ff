from django.apps import AppConfig


class PlainshopConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bench.plainshop"
    label = "plainshop"
    verbose_name = "Benchmark baseline: a plain CRUD shop"

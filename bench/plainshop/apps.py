import os

from django.apps import AppConfig


class PlainshopConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "bench.plainshop"
    label = "plainshop"
    verbose_name = "Benchmark baseline: a plain CRUD shop"

    def ready(self) -> None:
        """A benchmark server started with BENCH_WITHOUT runs with those tricks off (bench/tricks.py)."""
        from bench.tricks import disable

        disable(os.environ.get("BENCH_WITHOUT", ""))

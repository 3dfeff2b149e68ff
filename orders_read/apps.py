from django.apps import AppConfig


class OrdersReadConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders_read"
    verbose_name = "Orders (read side)"

    def ready(self) -> None:
        from django.core import checks

        from orders_read import projections  # noqa: F401  registers the projections
        from orders_read.bus import routes_check

        checks.register(routes_check)

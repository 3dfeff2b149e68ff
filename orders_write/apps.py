from django.apps import AppConfig


class OrdersWriteConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "orders_write"
    verbose_name = "Orders (write side)"

    def ready(self) -> None:
        from orders_write import events  # noqa: F401  registers the event classes and upcasters

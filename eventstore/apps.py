from django.apps import AppConfig


class EventstoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "eventstore"
    verbose_name = "Event store"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from eventstore import checks  # noqa: F401 - registers the projection version check
        from eventstore.backends.sqlite.functions import install_functions
        from eventstore.projections.wakeups import prepare_publisher, request_catch_up
        from eventstore.signals import events_committed

        # Before any connection exists: SQLite's triggers (the append-only rule, the hash
        # chain) call these functions on every connection, the migrating one included.
        connection_created.connect(install_functions, dispatch_uid="eventstore.sqlite_functions")
        events_committed.connect(request_catch_up, dispatch_uid="eventstore.request_catch_up")
        # Any process that commits sends the catch-up triggers: Celery's lazy set-up is
        # done now, not on the first command's commit (`prepare_publisher`).
        prepare_publisher()

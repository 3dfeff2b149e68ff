"""Django's `migrate`, connected as the tables' owner (MIGRATE_DATABASE_URL) rather than the runtime role.

Django runs the first installed app's command of a name, so this thin subclass
replaces the core one everywhere (`manage.py migrate`, the compose `migrate` service,
the test runner creating its databases) without a second settings module to
remember or a database alias the migrations and the router would have to know.
"""

from typing import Any

from django.core.management.commands import migrate

from eventstore.management.owner import connect_as_owner


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        connect_as_owner()
        super().handle(*args, **options)

"""Create or update the runtime role the app connects as, and give it exactly what the code needs.

Run as the tables' owner after every `migrate` (the compose `migrate` service does):
idempotent, it re-states every grant, so a table added by a migration gets its
privileges and a privilege granted by hand to the runtime role is taken back. The
privileges themselves are the backend's (`eventstore.backends.postgres.roles`); a
database without roles (SQLite) is left alone.
"""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from eventstore.backends import recorder_for
from eventstore.errors import RoleRefused
from eventstore.management.owner import connect_as_owner
from eventstore.projections.base import all_projections
from eventstore.rebuild.shadow_tables import OLD_SUFFIX, SHADOW_SUFFIX
from eventstore.routers import read_db_alias


def view_tables() -> set[str]:
    """The tables a rebuild replaces, and the leftovers an interrupted one may leave."""
    tables = {model._meta.db_table for projection in all_projections() for model in projection.models}
    return tables | {table + suffix for table in tables for suffix in (SHADOW_SUFFIX, OLD_SUFFIX)}


class Command(BaseCommand):
    help = "Create or update the app's runtime database role and its grants (run as the owner, after migrate)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the runtime role's name, as in the app's DATABASE_URL")
        parser.add_argument(
            "--password",
            default=os.environ.get("RUNTIME_DATABASE_PASSWORD", ""),
            help="set the role's password (default: RUNTIME_DATABASE_PASSWORD; empty leaves it as it is)",
        )

    def handle(self, *args: Any, name: str, password: str, **options: Any) -> None:
        connect_as_owner()
        done = False
        for alias in connections:
            backend = recorder_for(alias)
            if not backend.database_roles:
                continue
            views = view_tables() if alias == read_db_alias() else None
            try:
                grants = backend.grant_runtime_role(name, password, view_tables=views, using=alias)
            except RoleRefused as refused:
                raise CommandError(str(refused)) from refused
            self.stdout.write(
                f"{alias} ({connections[alias].settings_dict['NAME']}): {name} granted on {grants} tables"
            )
            done = True
        if not done:
            self.stdout.write("no database with roles (SQLite has none): nothing to grant")

"""A runtime role for one test: created and granted by `grant_runtime_role`, dropped afterwards.

Roles are cluster-wide, so the name derives from the test database's (parallel runs
on one server do not share it). Dropping it hands the view tables it owned back to
the test runner's role first, so the test databases stay whole for the next test.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.core.management import call_command
from django.db import connections

from tests.support.processes import database_url


def role_name(suffix: str = "runtime") -> str:
    return f"{connections['default'].settings_dict['NAME']}_{suffix}"[:63]


@contextmanager
def granted_runtime_role(suffix: str = "runtime") -> Iterator[str]:
    """Create the role and grant it on every test database; yields its name."""
    name = role_name(suffix)
    call_command("grant_runtime_role", name, verbosity=0)
    try:
        yield name
    finally:
        drop_role(name)


def drop_role(name: str) -> None:
    connections.close_all()  # the runtime role's grants and owners change under them
    aliases = [alias for alias in connections if connections[alias].vendor == "postgresql"]
    for alias in aliases:
        with psycopg.connect(database_url(alias), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
            if exists:
                role = psycopg.sql.Identifier(name)
                conn.execute(psycopg.sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(role))
                conn.execute(psycopg.sql.SQL("DROP OWNED BY {}").format(role))
    if aliases:
        with psycopg.connect(database_url(aliases[0]), autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg.sql.Identifier(name)))

"""`grant_runtime_role` states exactly the runtime role's privileges, and `migrate` runs as the owner.

On the test databases (PostgreSQL): the log and the seals SELECT and INSERT only,
`django_migrations` SELECT, the other tables plain DML, the views' tables owned by the
runtime role on the read database (a rebuild renames and drops them), and a privilege
granted by hand is taken back by the next run. In a subprocess, on a scratch database:
`migrate` with the app's URL as the runtime role fails, with MIGRATE_DATABASE_URL it
migrates as the owner, and the app then runs as the runtime role.
"""

import os
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from eventstore.management.commands.grant_runtime_role import view_tables
from eventstore.routers import read_db_alias
from tests.support.processes import ROOT, database_url
from tests.support.roles import drop_role, granted_runtime_role, role_name

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
ALL = (*DML, "TRUNCATE", "REFERENCES", "TRIGGER")


def privileges(alias: str, role: str, table: str) -> set[str]:
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT p FROM unnest(%s::text[]) AS p WHERE has_table_privilege(%s, %s, p)", [list(ALL), role, table]
        )
        return {row[0] for row in cursor.fetchall()}


def owner(alias: str, table: str) -> str:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


@pytest.fixture
def role() -> Iterator[str]:
    with granted_runtime_role("grants") as name:
        yield name


def test_the_runtime_role_gets_what_the_code_needs_and_no_more(role: str) -> None:
    assert privileges("default", role, "eventstore_event") == {"SELECT", "INSERT"}
    assert privileges("default", role, "eventstore_seal") == {"SELECT", "INSERT"}
    assert privileges("default", role, "django_migrations") == {"SELECT"}
    for table in ("eventstore_snapshot", "authtoken_token", "auth_user", "django_session"):
        assert privileges("default", role, table) == set(DML), table
    reads = read_db_alias()
    assert privileges(reads, role, "eventstore_projection_state") == set(DML)
    live_views = {t for t in view_tables() if not t.endswith(("__shadow", "__old"))}
    assert live_views and all(owner(reads, t) == role for t in live_views)
    assert owner("default", "eventstore_event") != role


def test_a_second_run_takes_back_what_was_granted_by_hand(role: str) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute(f'GRANT UPDATE, DELETE, TRUNCATE, TRIGGER ON eventstore_event TO "{role}"')
    assert "TRUNCATE" in privileges("default", role, "eventstore_event")
    call_command("grant_runtime_role", role, verbosity=0)
    assert privileges("default", role, "eventstore_event") == {"SELECT", "INSERT"}


def test_a_role_with_powers_or_the_owner_itself_is_refused() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT current_user")
        (me,) = cursor.fetchone()
    with pytest.raises(CommandError, match="another one"):
        call_command("grant_runtime_role", me, verbosity=0)
    powerful = role_name("powerful")
    with connections["default"].cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{powerful}" LOGIN CREATEDB')
    try:
        with pytest.raises(CommandError, match="createdb"):
            call_command("grant_runtime_role", powerful, verbosity=0)
    finally:
        drop_role(powerful)


@pytest.fixture
def scratch() -> Iterator[tuple[str, str]]:
    """A fresh database beside the test one, and a login role with no grants on it yet."""
    name = f"{connections['default'].settings_dict['NAME']}_roles"
    runtime = role_name("scratch")
    admin = database_url("default").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
        conn.execute(f'DROP ROLE IF EXISTS "{runtime}"')
        conn.execute(f'CREATE ROLE "{runtime}" LOGIN')
    try:
        yield name, runtime
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f'DROP ROLE IF EXISTS "{runtime}"')


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("READ_DATABASE_URL", "CELERY_BROKER_URL")}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings.test", DJANGO_LOG_LEVEL="WARNING", **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300
    )


def test_migrate_connects_as_the_owner_of_migrate_database_url(scratch: tuple[str, str]) -> None:
    name, runtime = scratch
    server = database_url("default").rsplit("/", 1)[0]
    owner_url = f"{server}/{name}"
    runtime_url = f"postgres://{runtime}@{server.split('@', 1)[-1]}/{name}"
    refused = manage("migrate", "-v", "0", DATABASE_URL=runtime_url)
    assert refused.returncode != 0 and "permission denied" in refused.stderr
    migrated = manage("migrate", "-v", "0", DATABASE_URL=runtime_url, MIGRATE_DATABASE_URL=owner_url)
    assert migrated.returncode == 0, migrated.stderr
    granted = manage("grant_runtime_role", runtime, DATABASE_URL=runtime_url, MIGRATE_DATABASE_URL=owner_url)
    assert granted.returncode == 0, granted.stderr
    seeded = manage("seed_demo", "--products", "3", "--orders", "5", DATABASE_URL=runtime_url, DJANGO_DEBUG="1")
    assert seeded.returncode == 0, seeded.stderr
    rebuilt = manage("rebuild_projections", "--all", DATABASE_URL=runtime_url)
    assert rebuilt.returncode == 0, rebuilt.stderr
    with psycopg.connect(owner_url) as conn:
        owners = dict(conn.execute("SELECT relname, pg_get_userbyid(relowner) FROM pg_class WHERE relkind = 'r'"))
    assert owners["eventstore_event"] == owners["django_migrations"] != runtime
    assert owners["orders_read_order_summary"] == runtime  # views on the log's database: the runtime role's

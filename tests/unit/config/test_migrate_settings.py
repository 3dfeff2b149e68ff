"""MIGRATE_DATABASE_URL and MIGRATE_READ_DATABASE_URL: the owner's credentials for the same databases.

In a fresh interpreter, as settings are read once per process.
"""

import json
import os
import subprocess
import sys

from tests.unit.config.test_settings import ROOT, VARIABLES

PRINT = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({a: [d["USER"], d["NAME"], d["HOST"]] for a, d in s.MIGRATE_DATABASES.items()}))
"""
OWNED = ("MIGRATE_DATABASE_URL", "MIGRATE_READ_DATABASE_URL")


def run(**variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (*VARIABLES, *OWNED)}
    env.update(variables, DJANGO_SETTINGS_MODULE="config.settings.base")
    return subprocess.run([sys.executable, "-c", PRINT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_owner_urls_are_kept_per_alias_and_unset_means_the_apps_own() -> None:
    done = run(
        DATABASE_URL="postgres://app@db:5432/orders",
        READ_DATABASE_URL="postgres://app@db:5432/orders_read",
        MIGRATE_DATABASE_URL="postgres://owner:pw@db-direct:5432/orders",
        MIGRATE_READ_DATABASE_URL="postgres://owner:pw@db-direct:5432/orders_read",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {
        "default": ["owner", "orders", "db-direct"],
        "read": ["owner", "orders_read", "db-direct"],
    }
    alone = run(DATABASE_URL="postgres://app@db:5432/orders")
    assert json.loads(alone.stdout.splitlines()[-1]) == {}


def test_an_owner_url_naming_another_database_is_refused_at_start() -> None:
    done = run(DATABASE_URL="postgres://app@db:5432/orders", MIGRATE_DATABASE_URL="postgres://owner@db:5432/other")
    assert done.returncode != 0 and "must name the same database" in done.stderr

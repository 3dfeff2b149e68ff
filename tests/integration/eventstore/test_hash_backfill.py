"""Migrations 0003 and 0005 hash a log recorded before them, lifting the append-only rule only for themselves.

Run in subprocesses on a database of their own, with the production settings (no purge
hatch), so what is proven is the migrations' own bypass: a log written at 0002, then
`migrate` prints its progress, and `verify_log` passes. Reversing them restores 0002;
reversing 0005 alone leaves hashes that 0003's own SQL function recomputes.
"""

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connections

from tests.support.processes import ROOT, database_url

WRITE_LOG = """
from eventstore.log.append import NO_STREAM, NewEvent, StreamWrite, append
for n in range(12):
    append(StreamWrite(f"Product-{n % 5}", -1, [NewEvent("Probed", {"n": n, "x": [1.5, "é", None]},
                                                         metadata={"user": "ann"})]))
"""


def manage(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "hash-backfill-" + "k" * 50,
        "DJANGO_LOG_LEVEL": "WARNING",
    }
    env.pop("READ_DATABASE_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def backfill_and_verify(url: str) -> None:
    assert manage(url, "migrate", "eventstore", "0002", "-v", "0").returncode == 0
    written = manage(url, "shell", "-v", "0", "-c", WRITE_LOG)
    assert written.returncode == 0, written.stderr
    migrated = manage(url, "migrate", "-v", "1")
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.count("eventstore: hashed 12/12 events") == 2  # 0003, then 0005 in its own form
    verified = manage(url, "verify_log", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["events_checked"] == 12
    appended = manage(url, "shell", "-v", "0", "-c", WRITE_LOG)  # the trigger chains onto the backfilled hashes
    assert appended.returncode == 0, appended.stderr
    assert json.loads(manage(url, "verify_log", "--json").stdout)["events_checked"] == 24


def test_sqlite_backfill_then_reverse_restores_the_append_only_triggers(tmp_path: Path) -> None:
    path = tmp_path / "backfill.sqlite3"
    url = f"sqlite:///{path}"
    backfill_and_verify(url)
    assert manage(url, "migrate", "eventstore", "0002", "-v", "0").returncode == 0
    with sqlite3.connect(path) as db:
        triggers = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        columns = {row[1] for row in db.execute("PRAGMA table_info(eventstore_event)")}
    assert triggers == {"eventstore_event_no_update", "eventstore_event_no_delete"}
    assert "hash" not in columns


@pytest.fixture
def scratch_postgres() -> Iterator[str]:
    """A database beside the test database (named after it, so parallel runs do not collide)."""
    if connections["default"].vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL (CI does)")
    name = f"{connections['default'].settings_dict['NAME']}_backfill"
    admin = database_url("default").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.postgres
def test_postgres_backfill(scratch_postgres: str) -> None:
    backfill_and_verify(scratch_postgres)


OLD_FORM_MISMATCHES = """
SELECT count(*) FROM eventstore_event e LEFT JOIN eventstore_event p
    ON p.stream_id = e.stream_id AND p.version = e.version - 1
WHERE e.hash <> eventstore_event_hash(coalesce(p.hash, ''), e.stream_id, e.version, e.event_type,
                                      e.schema_version, e.data, e.metadata, e.recorded_at)
"""


@pytest.mark.postgres
def test_postgres_reversing_0005_rehashes_in_0003s_form_and_forward_again_verifies(scratch_postgres: str) -> None:
    backfill_and_verify(scratch_postgres)
    reversed_ = manage(scratch_postgres, "migrate", "eventstore", "0004", "-v", "0")
    assert reversed_.returncode == 0, reversed_.stderr
    with psycopg.connect(scratch_postgres) as conn:
        assert conn.execute("SELECT count(*) FROM eventstore_event").fetchone()[0] == 24
        assert conn.execute(OLD_FORM_MISMATCHES).fetchone()[0] == 0
    assert manage(scratch_postgres, "migrate", "-v", "0").returncode == 0
    verified = manage(scratch_postgres, "verify_log", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr

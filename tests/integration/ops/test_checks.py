"""The startup check that tells an operator a projection needs a rebuild."""

import subprocess
import sys

import pytest
from django.core.checks import run_checks

from eventstore.checks import NEEDS_REBUILD
from eventstore.models import ProjectionState
from eventstore.projections.runner import catch_up
from eventstore.rebuild.orchestration import rebuild_projection
from eventstore.routers import read_db_alias
from tests.integration.ops.counting import NAME, add_products
from tests.support.processes import ROOT, subprocess_env


def _warnings() -> list:
    return [m for m in run_checks(tags=["eventstore"]) if m.id == NEEDS_REBUILD]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_bumped_version_warns_until_rebuilt(counting_projection) -> None:
    add_products(1)
    catch_up(NAME)
    assert _warnings() == []
    ProjectionState.objects.using(read_db_alias()).filter(name=NAME).update(version=0)
    [warning] = _warnings()
    assert warning.obj == NAME and "needs rebuild" in warning.msg and "version 1" in warning.msg
    assert f"rebuild_projections {NAME}" in warning.hint
    rebuild_projection(NAME)
    assert _warnings() == []


def test_the_check_stays_quiet_without_a_usable_database() -> None:
    """No DB access here (pytest-django forbids it): like a fresh machine before migrate, no error."""
    assert _warnings() == []


def test_manage_py_check_passes_on_a_fresh_unmigrated_database(tmp_path) -> None:
    env = subprocess_env(DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.sqlite3'}", CELERY_BROKER_URL="")
    env.pop("READ_DATABASE_URL", None)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout

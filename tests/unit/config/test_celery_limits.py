"""Celery's time limits and the Redis visibility timeout: rebuilds get longer limits, and no
message is delivered twice while the longest task may still be running."""

import os
import subprocess
import sys

from django.conf import settings

from config.celery_app import app
from tests.support.processes import ROOT

PROJECT_APPS = ("eventstore.", "orders_write.", "orders_read.", "config.")


def project_tasks() -> dict:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith(PROJECT_APPS)}


def test_every_task_has_a_soft_limit_below_its_hard_one() -> None:
    conf = app.conf
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert (conf.task_soft_time_limit, conf.task_time_limit) == (
        settings.CELERY_TASK_SOFT_TIME_LIMIT,
        settings.CELERY_TASK_TIME_LIMIT,
    )


def test_rebuilds_get_the_longer_limits_and_every_other_task_the_default() -> None:
    """Rebuilds and whole-log verifications read the whole log: they get the longer limits."""
    tasks = project_tasks()
    rebuilds = {name for name in tasks if "rebuild" in name or "verify" in name}
    assert rebuilds == {"eventstore.tasks.rebuild_projections", "eventstore.tamper.tasks.verify_whole_log"}
    for name, task in tasks.items():
        if name in rebuilds:
            assert (task.soft_time_limit, task.time_limit) == (
                settings.REBUILD_SOFT_TIME_LIMIT,
                settings.REBUILD_TIME_LIMIT,
            ), name
            assert task.time_limit > app.conf.task_time_limit
        else:
            assert (task.soft_time_limit, task.time_limit) == (
                settings.CELERY_TASK_SOFT_TIME_LIMIT,
                settings.CELERY_TASK_TIME_LIMIT,
            ), name
    # What a publish sends along with the rebuild (the worker honours the message's limits).
    options = tasks["eventstore.tasks.rebuild_projections"]._get_exec_options()
    assert (options["soft_time_limit"], options["time_limit"]) == (
        settings.REBUILD_SOFT_TIME_LIMIT,
        settings.REBUILD_TIME_LIMIT,
    )


def test_the_visibility_timeout_outlasts_the_longest_hard_limit() -> None:
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    longest = max([app.conf.task_time_limit] + [task.time_limit or 0 for task in project_tasks().values()])
    assert visibility > longest


def settings_process(**variables: str) -> subprocess.CompletedProcess:
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.CELERY_TASK_SOFT_TIME_LIMIT, s.CELERY_TASK_TIME_LIMIT, s.REBUILD_SOFT_TIME_LIMIT, "
        "s.REBUILD_TIME_LIMIT, s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'])"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_")}
    env.update(variables, DJANGO_SETTINGS_MODULE="config.settings.test", DJANGO_SECRET_KEY="test-only")
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_limits_come_from_the_environment_and_the_visibility_timeout_follows_the_rebuilds() -> None:
    done = settings_process(
        CELERY_TASK_SOFT_TIME_LIMIT="50",
        CELERY_TASK_TIME_LIMIT="60",
        CELERY_REBUILD_SOFT_TIME_LIMIT="500",
        CELERY_REBUILD_TIME_LIMIT="600",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-5:] == ["50", "60", "500", "600", "1200"]


def test_inconsistent_limits_refuse_to_start() -> None:
    cases = [
        {"CELERY_TASK_SOFT_TIME_LIMIT": "60", "CELERY_TASK_TIME_LIMIT": "60"},
        {"CELERY_REBUILD_SOFT_TIME_LIMIT": "0"},
        {"CELERY_REBUILD_TIME_LIMIT": "20000", "CELERY_VISIBILITY_TIMEOUT": "20000"},
    ]
    for variables in cases:
        done = settings_process(**variables)
        assert done.returncode != 0, variables
        assert "ImproperlyConfigured" in done.stderr, variables

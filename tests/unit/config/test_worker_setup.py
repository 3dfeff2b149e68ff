"""How workers are set up: catch-ups on their own queue when PROJECTION_QUEUE says so, and the
start-up heap kept out of garbage collection."""

import gc
import os
import subprocess
import sys

from config.celery_app import freeze_start_up_heap
from tests.support.processes import ROOT


def routes(**variables: str) -> list[str]:
    """The queue a catch-up, a rebuild and a seal are published to, under these settings."""
    script = (
        "import django; django.setup(); from config.celery_app import app; "
        "print(*(app.amqp.router.route({}, name)['queue'].name for name in ("
        "'eventstore.tasks.catch_up_projection', 'eventstore.tasks.rebuild_projections', 'eventstore.tasks.seal_log')))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY_") and k != "PROJECTION_QUEUE"}
    env.update(variables, DJANGO_SETTINGS_MODULE="config.settings.test", DJANGO_SECRET_KEY="test-only")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-3:]


def test_catch_ups_go_to_the_projection_queue_and_every_other_task_to_the_default_one() -> None:
    assert routes(PROJECTION_QUEUE="projections", CELERY_TASK_DEFAULT_QUEUE="jobs") == ["projections", "jobs", "jobs"]


def test_without_a_projection_queue_catch_ups_share_the_default_queue() -> None:
    assert routes(CELERY_TASK_DEFAULT_QUEUE="jobs") == ["jobs", "jobs", "jobs"]


def test_a_worker_freezes_its_start_up_heap() -> None:
    gc.unfreeze()
    try:
        freeze_start_up_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()

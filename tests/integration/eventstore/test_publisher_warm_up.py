"""A web worker connects to the broker at start-up (gunicorn's `post_worker_init`), not on its first command.

The first catch-up trigger a process sends would otherwise build Celery's publisher,
connect to the broker and declare the queue after the command's commit, while every
other commit finds the flag set and waits on that task. A fresh interpreter (settings
and Celery are set up once per process) warms up as gunicorn's hook does, then sends
its first trigger; the Redis server and broker are real, the test counts the
connections opened and the queues declared during that send.
"""

import subprocess
import sys

import pytest

from tests.support.processes import ROOT, subprocess_env
from tests.support.services import worker_skip_reason

pytestmark = pytest.mark.worker

FIRST_SEND = """
import django
django.setup()
import kombu.entity, redis.connection
from config.celery_app import app
from eventstore.projections.wakeups import warm_up_publisher
from eventstore.tasks import catch_up_projection

{warm_up}
connects, declares = [], []
connect, declare = redis.connection.Connection._connect, kombu.entity.Queue.declare
redis.connection.Connection._connect = lambda self, *a, **k: (connects.append(1), connect(self, *a, **k))[1]
kombu.entity.Queue.declare = lambda self, *a, **k: (declares.append(self.name), declare(self, *a, **k))[1]
catch_up_projection.delay("order_summary")
redis.connection.Connection._connect, kombu.entity.Queue.declare = connect, declare
with app.connection_for_write() as connection:
    app.amqp.queues[app.conf.task_default_queue](connection.default_channel).delete()
print(len(connects), len(declares))
"""


def first_send(celery_queue: str, *, warm_up: bool) -> tuple[int, int]:
    """Connections opened and queues declared by a fresh process's first trigger (to a queue nobody consumes)."""
    script = FIRST_SEND.format(warm_up="warm_up_publisher()" if warm_up else "")
    env = subprocess_env(CELERY_TASK_DEFAULT_QUEUE=f"{celery_queue}-warm-up", PROJECTION_QUEUE="")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    connects, declares = done.stdout.split()[-2:]
    return int(connects), int(declares)


def test_a_warmed_up_process_sends_its_first_trigger_on_connections_it_already_has(celery_queue: str) -> None:
    if reason := worker_skip_reason():
        pytest.skip(reason)
    assert first_send(celery_queue, warm_up=False) != (0, 0)  # else the test could not tell
    assert first_send(celery_queue, warm_up=True) == (0, 0)

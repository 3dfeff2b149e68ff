"""The Celery app: settings come from Django's (CELERY_ namespace), tasks from every app."""

import contextlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun, worker_process_init, worker_ready

import config.task_context  # noqa: F401  (its receivers carry request and correlation ids into task logs)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

logger = logging.getLogger(__name__)

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def config_loggers(*args: Any, **kwargs: Any) -> None:
    """Use Django's LOGGING in workers too, so worker logs look like web logs."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@task_prerun.connect(dispatch_uid="config.celery_app.drop_unusable_connections_before")
@task_postrun.connect(dispatch_uid="config.celery_app.drop_unusable_connections_after")
def drop_unusable_connections(sender: Any = None, **kwargs: Any) -> None:
    """What Django's request_started/finished do for a request, around every task a worker runs.

    Celery sends no Django request signals, and a worker thread keeps its connections
    from task to task: one the server terminated, or that failed and broke, would be
    handed to the next task. `close_old_connections` closes it (and any past
    CONN_MAX_AGE) and re-arms CONN_HEALTH_CHECKS, so the next task's first query checks
    and reopens it. Celery's Django fixup would close every connection around every task;
    CELERY_DB_REUSE_MAX (settings) keeps them, and this keeps them sound. Not for eager
    tasks: they run inside the caller's request and transaction, whose connections are
    the caller's.
    """
    request = getattr(sender, "request", None)
    if request is not None and getattr(request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_ready.connect(dispatch_uid="config.celery_app.freeze_start_up_heap")
@worker_process_init.connect(dispatch_uid="config.celery_app.freeze_start_up_heap_in_child")
def freeze_start_up_heap(**kwargs: Any) -> None:
    """Keep what a worker built at start-up (Django, every app, Celery itself) out of garbage collection.

    Under steady catch-ups a full collection came every few seconds and paused every task
    thread of the worker at once (`runner.freeze_start_up_heap` says why). `worker_ready`
    comes in the worker's own process (where a threads pool runs its tasks),
    `worker_process_init` in each prefork child.
    """
    from eventstore.projections import runner

    runner.freeze_start_up_heap()


WARM_UP_GATHER_SECONDS = 2.0
"""How long each thread's warm-up waits for the pool's other threads to take theirs."""


@worker_ready.connect(dispatch_uid="config.celery_app.warm_up_task_threads")
def warm_up_task_threads(sender: Any = None, **kwargs: Any) -> None:
    """In a threads pool, open every task thread's connections before the first task comes (`runner.warm_up`).

    Connections are per thread and kept from task to task (CELERY_DB_REUSE_MAX), so a
    thread's first catch-up would otherwise open them inside the views' lag, once per
    thread after every start. The pool starts a thread for each job submitted while none
    is idle: every warm-up waits at a barrier until all have started, so each lands on a
    thread of its own. A prefork or solo pool opens them with its first task, as before.
    """
    pool: Any = getattr(sender, "pool", None)
    threads = getattr(pool, "limit", None)  # the pool's concurrency: its executor's max_workers
    if not isinstance(getattr(pool, "executor", None), ThreadPoolExecutor) or not threads:
        return
    executor = pool.executor
    gathered = threading.Barrier(threads, timeout=WARM_UP_GATHER_SECONDS)
    for _ in range(threads):
        executor.submit(_warm_up_thread, gathered)


def _warm_up_thread(gathered: threading.Barrier) -> None:
    from django.db import connections

    from eventstore.projections import runner

    with contextlib.suppress(threading.BrokenBarrierError):  # a task took a thread first: warm whichever this is
        gathered.wait()
    try:
        runner.warm_up()
    except Exception:
        logger.warning("could not open a task thread's connections at start-up; its first task will", exc_info=True)
        connections.close_all()

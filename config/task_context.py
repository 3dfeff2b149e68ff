"""The request and correlation ids, carried from whoever queues a Celery task into the task's log lines.

A command's request id (config.middleware) is also its correlation id; the projection
catch-ups its commit queues run in a worker, another process, where that context is gone.
So a publish stamps the ids it is running under into the message headers
(`before_task_publish`), and the worker sets them again around the task (`task_prerun`,
`task_postrun`), where config.logging's filter puts them on every record. A task that no
request started (beat's) gets its own task id as correlation id, and passes it on to what
it queues in turn. Eager tasks run inside their caller, whose ids are already in place.
"""

from typing import Any

from celery.signals import before_task_publish, task_postrun, task_prerun

from config.logging import NO_ID, correlation_id_var, request_id_var, task_id_var

REQUEST_ID_HEADER = "x_request_id"
CORRELATION_ID_HEADER = "x_correlation_id"  # not `correlation_id`: Celery's own, the task id


def current_ids() -> dict[str, str]:
    """The ids a task queued now should carry: the request's, and the correlation id (defaulting to it)."""
    request_id = request_id_var.get()
    correlation_id = correlation_id_var.get()
    if correlation_id == NO_ID:
        correlation_id = request_id
    return {
        name: value
        for name, value in ((REQUEST_ID_HEADER, request_id), (CORRELATION_ID_HEADER, correlation_id))
        if value != NO_ID
    }


@before_task_publish.connect(dispatch_uid="config.task_context.stamp_headers")
def stamp_headers(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Add the current ids to an outgoing task's headers (ids the caller set explicitly win)."""
    if headers is None:
        return
    for name, value in current_ids().items():
        headers.setdefault(name, value)


@task_prerun.connect(dispatch_uid="config.task_context.enter_task")
def enter_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Run the task under the ids its message carried, and its own task id."""
    request = getattr(task, "request", None)
    if request is None or getattr(request, "is_eager", False):
        return
    request_id = getattr(request, REQUEST_ID_HEADER, None) or NO_ID
    correlation_id = getattr(request, CORRELATION_ID_HEADER, None) or (
        request_id if request_id != NO_ID else task_id or NO_ID
    )
    request_id_var.set(request_id)
    correlation_id_var.set(correlation_id)
    task_id_var.set(task_id or NO_ID)


@task_postrun.connect(dispatch_uid="config.task_context.leave_task")
def leave_task(task: Any = None, **_: Any) -> None:
    """A worker process runs many tasks: the next one must not log under this one's ids."""
    request = getattr(task, "request", None)
    if request is None or getattr(request, "is_eager", False):
        return
    request_id_var.set(NO_ID)
    correlation_id_var.set(NO_ID)
    task_id_var.set(NO_ID)

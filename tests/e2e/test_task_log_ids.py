"""A real worker's log line for a task carries the request id of whoever queued it.

The test process plays the web process: it queues a catch-up while handling request
`req-…`; the worker subprocess (tests/conftest.py, JSON logs) runs it in another process,
and Celery's own "succeeded" line for that task must name the same request id, the
correlation id and the task's id.
"""

import json
import time
import uuid

import pytest

from config.logging import request_id_var
from eventstore.tasks import catch_up_projection

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, databases="__all__"),
]


def log_lines_of(path, task_id: str, timeout: float = 20.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = []
        for raw in path.read_text(errors="replace").splitlines():
            if task_id in raw and raw.lstrip().startswith("{"):
                lines.append(json.loads(raw))
        if any("succeeded" in line["message"] for line in lines):
            return lines
        time.sleep(0.2)
    raise AssertionError(f"no 'succeeded' line for task {task_id} in the worker's log:\n{path.read_text()[-3000:]}")


def test_the_workers_log_line_for_a_task_carries_the_request_id_that_queued_it(running_worker) -> None:
    request_id = f"req-{uuid.uuid4().hex}"
    token = request_id_var.set(request_id)
    try:
        task_id = catch_up_projection.apply_async(("order_summary",)).id
    finally:
        request_id_var.reset(token)

    lines = log_lines_of(running_worker.log_path, task_id)
    succeeded = next(line for line in lines if "succeeded" in line["message"])
    assert succeeded["request_id"] == request_id
    assert succeeded["correlation_id"] == request_id
    assert succeeded["task_id"] == task_id

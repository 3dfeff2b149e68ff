"""Request and correlation ids ride in a task's headers and come back in the task's log lines.

The publish goes through kombu's in-memory transport, a real broker for one process, so
the headers checked are the ones a worker would receive; the worker side runs Celery's
own signals around a task whose request holds those headers, as a worker sets it up.
The same path through a real worker process is tests/e2e/test_task_log_ids.py.
"""

import logging
import uuid
from collections.abc import Callable, Iterator

import pytest
from celery.signals import task_postrun, task_prerun
from kombu import Connection

from config.celery_app import app
from config.logging import NO_ID, JsonFormatter, RequestIdFilter, correlation_id_var, request_id_var, task_id_var
from config.task_context import CORRELATION_ID_HEADER, REQUEST_ID_HEADER
from eventstore.tasks import catch_up_projection


class Collect(logging.Handler):
    """The records a console handler would format, through the same filter."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.setFormatter(JsonFormatter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)
        self.records.append(record)


@pytest.fixture
def collected() -> Iterator[Collect]:
    handler = Collect()
    logger = logging.getLogger("tests.task_context")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def published() -> Iterator[Callable[..., dict]]:
    """Publish `catch_up_projection` for real (eager off) to a fresh in-memory queue; the message's headers."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    queue = f"test-context-{uuid.uuid4().hex}"

    def publish(**options: object) -> dict:
        with Connection("memory://") as connection:
            consumer_queue = connection.SimpleQueue(queue)
            catch_up_projection.apply_async(("order_summary",), connection=connection, queue=queue, **options)
            message = consumer_queue.get(timeout=2)
            message.ack()
            consumer_queue.close()
            return message.headers

    try:
        yield publish
    finally:
        app.conf.task_always_eager = eager


def test_a_task_queued_during_a_request_carries_its_id_as_request_and_correlation_id(published) -> None:
    token = request_id_var.set("req-123")
    try:
        headers = published()
    finally:
        request_id_var.reset(token)
    assert headers[REQUEST_ID_HEADER] == "req-123"
    assert headers[CORRELATION_ID_HEADER] == "req-123"
    assert headers["task"] == "eventstore.tasks.catch_up_projection"


def test_a_task_queued_by_a_task_passes_the_correlation_id_on(published) -> None:
    token = correlation_id_var.set("beat-root-task")
    try:
        headers = published()
    finally:
        correlation_id_var.reset(token)
    assert REQUEST_ID_HEADER not in headers  # no request started it
    assert headers[CORRELATION_ID_HEADER] == "beat-root-task"


def test_ids_given_explicitly_win_and_no_ids_means_no_headers(published) -> None:
    token = request_id_var.set("req-ambient")
    try:
        headers = published(headers={REQUEST_ID_HEADER: "req-explicit"})
    finally:
        request_id_var.reset(token)
    assert headers[REQUEST_ID_HEADER] == "req-explicit"
    headers = published()
    assert REQUEST_ID_HEADER not in headers and CORRELATION_ID_HEADER not in headers


def run_as_worker(headers: dict, task_id: str, log: logging.Logger) -> None:
    """What a worker does around a task: its request from the message's headers, prerun, the body, postrun."""
    catch_up_projection.push_request(id=task_id, is_eager=False, **headers)
    try:
        task_prerun.send(sender=catch_up_projection, task_id=task_id, task=catch_up_projection, args=(), kwargs={})
        log.info("projecting")
        task_postrun.send(sender=catch_up_projection, task_id=task_id, task=catch_up_projection, args=(), kwargs={})
    finally:
        catch_up_projection.pop_request()


def test_a_task_logs_under_the_ids_its_message_carried_and_forgets_them_after(collected) -> None:
    log = logging.getLogger("tests.task_context")
    run_as_worker({REQUEST_ID_HEADER: "req-9", CORRELATION_ID_HEADER: "req-9"}, "task-1", log)
    (record,) = collected.records
    assert (record.request_id, record.correlation_id, record.task_id) == ("req-9", "req-9", "task-1")
    assert '"request_id": "req-9"' in collected.format(record) and '"task_id": "task-1"' in collected.format(record)
    assert (request_id_var.get(), correlation_id_var.get(), task_id_var.get()) == (NO_ID, NO_ID, NO_ID)

    log.info("between tasks")
    assert not hasattr(collected.records[-1], "task_id") and collected.records[-1].request_id == NO_ID


def test_a_task_no_request_started_is_its_own_correlation_id(collected) -> None:
    run_as_worker({}, "beat-task-7", logging.getLogger("tests.task_context"))
    (record,) = collected.records
    assert (record.request_id, record.correlation_id, record.task_id) == (NO_ID, "beat-task-7", "beat-task-7")


def test_an_eager_task_keeps_its_callers_ids(collected) -> None:
    token = request_id_var.set("req-eager")
    try:
        catch_up_projection.push_request(id="eager-1", is_eager=True)
        try:
            task_prerun.send(sender=catch_up_projection, task_id="eager-1", task=catch_up_projection)
            logging.getLogger("tests.task_context").info("inside the request")
            task_postrun.send(sender=catch_up_projection, task_id="eager-1", task=catch_up_projection)
        finally:
            catch_up_projection.pop_request()
        assert request_id_var.get() == "req-eager"
    finally:
        request_id_var.reset(token)
    (record,) = collected.records
    assert record.request_id == "req-eager" and not hasattr(record, "task_id")


def test_an_explicit_correlation_id_on_a_record_is_kept(collected) -> None:
    token = correlation_id_var.set("from-task")
    try:
        logging.getLogger("tests.task_context").info("command", extra={"correlation_id": "explicit"})
    finally:
        correlation_id_var.reset(token)
    assert collected.records[0].correlation_id == "explicit"

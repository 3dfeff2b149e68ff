"""A broker or database that is down: committed commands still answer 2xx, the rest 503, views catch up.

Real processes: gunicorn, a Celery worker and beat share a Redis server this test owns
(broker and cache), which it kills and pauses under them; nothing is restarted but
Redis itself. API.md: once a command has committed, nothing after the commit turns its
answer into an error; a request that fails before committing answers 503 with
Retry-After, never a bare 500.
"""

import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.core.cache import cache

from eventstore.models import Event
from eventstore.projections.base import all_projections
from eventstore.projections.wakeups import pending_key
from tests.support.api import ApiClient, new_key, place, register
from tests.support.beat import BeatProcess
from tests.support.gunicorn import GunicornProcess, free_port
from tests.support.processes import WorkerProcess
from tests.support.redis_server import RedisServer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not RedisServer.available(), reason="needs redis-server on PATH to own a broker (CI has it)"),
    pytest.mark.django_db(transaction=True, databases="__all__"),
]

COMMAND_BUDGET_SECONDS = 2.0
"""A hung broker may add about a second to a command (two bounded tries); anything near
Celery's or redis-py's defaults (many seconds) is the bug this file is about."""


@pytest.fixture
def own_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    """A Redis for this test only, as every process's broker (db 0) and cache (db 1)."""
    server = RedisServer(tmp_path / "redis.log")
    server.start()
    monkeypatch.setenv("CELERY_BROKER_URL", server.url(0))
    monkeypatch.setenv("REDIS_URL", server.url(1))
    yield server
    server.stop()


class Stack:
    """One gunicorn worker (so /metrics is one process's counters), a Celery worker and beat."""

    def __init__(self, tmp_path: Path) -> None:
        queue = f"outage-{uuid.uuid4().hex[:8]}"
        self.web = GunicornProcess(tmp_path / "gunicorn.log", queue=queue, workers=1)
        self.worker = WorkerProcess(queue, tmp_path / "worker.log")
        self.beat = BeatProcess(tmp_path, queue=queue, every_seconds=1.0)
        self.started: list[GunicornProcess | WorkerProcess | BeatProcess] = []

    def start(self, process: GunicornProcess | WorkerProcess | BeatProcess) -> None:
        process.start()
        self.started.append(process)

    def stop(self) -> None:
        for process in reversed(self.started):
            process.stop()


@pytest.fixture
def stack(tmp_path: Path, own_redis: RedisServer) -> Iterator[Stack]:
    processes = Stack(tmp_path)
    try:
        processes.start(processes.web)
        processes.start(processes.worker)
        processes.start(processes.beat)
        yield processes
    finally:
        processes.stop()


def _timed_order(api: ApiClient, sku: str, *, key: str | None = None) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = place(api, (sku, 1), expect=None, key=key)
    return response, time.monotonic() - started


def _created_once(order_id: str) -> bool:
    return Event.objects.filter(stream_id=f"Order-{order_id}", event_type="OrderCreated").count() == 1


def _post_commit_failures(api: ApiClient, effect: str) -> float:
    text = requests.get(f"{api.base_url}/metrics", timeout=10).text
    match = re.search(rf'^eventstore_post_commit_failures_total\{{effect="{effect}"\}} (\S+)$', text, re.M)
    return float(match[1]) if match else 0.0


def _fresh_product(api: ApiClient, sku: str, token: str) -> bool:
    return _fresh(api, f"products/{sku}/", token)


def _fresh_order(api: ApiClient, order_id: str, token: str) -> bool:
    return _fresh(api, f"orders/{order_id}/", token)


def _fresh(api: ApiClient, path: str, token: str, timeout: float = 60.0) -> bool:
    """Poll a view with read-your-writes until the projections behind it have passed `token`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.session.get(
            f"{api.base_url}/api/{path}",
            timeout=15,
            headers={"X-Consistency-Token": token, "X-Consistency-Timeout": "2"},
        )
        if response.status_code == 200 and response.headers.get("X-Consistency") == "fresh":
            return True
        time.sleep(0.5)
    return False


def test_with_the_broker_killed_then_hung_commands_commit_once_answer_2xx_and_views_catch_up_after(
    stack: Stack, own_redis: RedisServer, staff_token: str
) -> None:
    """Beat ticks every second and reads wait for the views, so Redis usually dies under a worker that
    holds a running task: kombu's own Redis transport then exits the worker (config/redis_transport.py)."""
    api = ApiClient(stack.web.url, staff_token)
    sku = f"out-{uuid.uuid4().hex[:6]}"
    registered = register(api, sku, stock=100, expect=None)
    assert registered.status_code == 201
    assert _fresh_product(api, sku, registered.headers["X-Consistency-Token"])

    own_redis.kill()
    answers = [_timed_order(api, sku), _timed_order(api, sku, key=new_key())]
    for response, seconds in answers:
        assert response.status_code == 201, response.text
        assert seconds < COMMAND_BUDGET_SECONDS, seconds
        assert _created_once(response.json()["id"])
    assert _post_commit_failures(api, "cache") >= 2

    own_redis.start()  # same port: the processes reconnect by themselves
    own_redis.pause()
    try:
        hung = [_timed_order(api, sku), _timed_order(api, sku, key=new_key())]
    finally:
        own_redis.resume()
    for response, seconds in hung:
        assert response.status_code == 201, response.text
        assert seconds < COMMAND_BUDGET_SECONDS, seconds
        assert _created_once(response.json()["id"])

    # Nothing was restarted but Redis: beat's catch-up brings every view along.
    last = hung[-1][0]
    token = last.headers["X-Consistency-Token"]
    assert _fresh_order(api, last.json()["id"], token), stack.worker.log_path.read_text()[-3000:]
    assert stack.worker.process is not None and stack.worker.process.poll() is None
    for response, _ in answers + hung:
        view = api.order(response.json()["id"])
        assert view.status_code == 200 and view.json()["status"] == "pending"
    product = api.product(sku).json()
    assert (product["reserved"], product["available"]) == (4, 96)
    api.close()


def test_with_the_database_unreachable_requests_answer_503_with_retry_after(tmp_path: Path) -> None:
    """Before anything can commit: every API request is 503 + Retry-After, /healthz still says the process is up."""
    dead = f"postgres://postgres@127.0.0.1:{free_port()}/nowhere"
    web = GunicornProcess(
        tmp_path / "gunicorn.log",
        queue="unused",
        workers=1,
        env={"DATABASE_URL": dead, "READ_DATABASE_URL": dead, "CELERY_BROKER_URL": ""},
    )
    web.start()
    try:
        api = ApiClient(web.url, "0" * 40)
        for response in (
            place(api, ("mug", 1), expect=None),
            place(api, ("mug", 1), expect=None, key=new_key()),
            api.get("products/"),
            api.get("orders/"),
        ):
            assert response.status_code == 503, (response.status_code, response.text)
            assert response.headers["Retry-After"] == "1"
            assert response.json()["code"] == "service_unavailable"
        api.close()
    finally:
        web.stop()


def test_terminating_every_database_connection_under_load_answers_2xx_or_503_and_loses_nothing(
    tmp_path: Path, staff_token: str, celery_queue: str
) -> None:
    """Four clients send keyed orders through gunicorn (2 workers) while every backend of the app's
    databases is terminated five times: each answer is 2xx or 503 (or a contract 409), never a 500; a
    503 retried with its key settles to one order, and the requests after the faults reconnect."""
    from django.db import connections

    from tests.support.db_faults import terminate_all_backends

    # The run's own queue (deleted at the end of the run), and the coalescing flags cleared after:
    # with no worker here, the flags its commits set would hold the next test's triggers back.
    web = GunicornProcess(tmp_path / "gunicorn.log", queue=celery_queue, workers=2)
    web.start()
    try:
        setup = ApiClient(web.url, staff_token)
        sku = f"term-{uuid.uuid4().hex[:6]}"
        assert register(setup, sku, stock=10_000, expect=None).status_code == 201
        statuses: list[int] = []
        codes: list[str] = []
        accepted: dict[str, str] = {}
        stop = threading.Event()

        def client() -> None:
            api = ApiClient(web.url, staff_token)
            while not stop.is_set():
                key = new_key()
                for _ in range(20):  # a 503 is retried with the same key until it settles
                    response = place(api, (sku, 1), expect=None, key=key)
                    statuses.append(response.status_code)
                    if response.status_code == 409:  # the contract's answers to retry: a first try still
                        codes.append(response.json()["code"])  # holds the key, or a race was lost 12 times
                    elif response.status_code != 503:
                        break
                    time.sleep(0.05)
                if response.status_code == 201:
                    accepted[key] = response.json()["id"]
            api.close()

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            for _ in range(5):
                time.sleep(0.4)
                terminate_all_backends()
        finally:
            time.sleep(0.4)
            stop.set()
            for thread in threads:
                thread.join(60)
        connections.close_all()  # the test process's own connections were terminated too

        assert set(statuses) <= {201, 409, 503}, sorted(set(statuses))
        assert set(codes) <= {"request_in_progress", "concurrency_conflict"}, codes
        assert len(accepted) > 10
        after = [place(setup, (sku, 1), expect=None) for _ in range(4)]  # every gunicorn thread reconnects
        assert [response.status_code for response in after] == [201] * 4
        created = Event.objects.filter(stream_type="Order", event_type="OrderCreated")
        ids = [str(stream_id).removeprefix("Order-") for stream_id in created.values_list("stream_id", flat=True)]
        assert sorted(ids) == sorted([*accepted.values(), *(r.json()["id"] for r in after)])
        setup.close()
    finally:
        web.stop()
        cache.delete_many([pending_key(projection.name) for projection in all_projections()])


def test_twenty_readers_waiting_on_a_stalled_projection_leave_healthz_instant(
    tmp_path: Path, own_redis: RedisServer, staff_token: str
) -> None:
    """No worker runs, so the projections never pass the token: two readers of the one process
    wait (CONSISTENCY_MAX_WAITERS=2), the rest answer stale at once, and /healthz is never held."""
    web = GunicornProcess(
        tmp_path / "gunicorn.log",
        queue=f"stall-{uuid.uuid4().hex[:8]}",
        workers=1,
        threads=8,
        env={"CONSISTENCY_MAX_WAITERS": "2"},
    )
    web.start()
    try:
        api = ApiClient(web.url, staff_token)
        sku = f"stall-{uuid.uuid4().hex[:6]}"
        registered = register(api, sku, stock=5, expect=None)
        assert registered.status_code == 201
        token = registered.headers["X-Consistency-Token"]
        answers: list[tuple[str | None, float]] = []

        def read() -> None:
            started = time.monotonic()
            response = requests.get(
                f"{web.url}/api/products/",
                timeout=30,
                headers={"X-Consistency-Token": token, "X-Consistency-Timeout": "5"},
            )
            answers.append((response.headers.get("X-Consistency"), time.monotonic() - started))

        readers = [threading.Thread(target=read) for _ in range(20)]
        for reader in readers:
            reader.start()
        time.sleep(0.5)  # the readers are in: the two waiters hold their threads for 5 s
        health = []
        for _ in range(5):
            started = time.monotonic()
            assert requests.get(f"{web.url}/healthz", timeout=10).status_code == 200
            health.append(time.monotonic() - started)
        for reader in readers:
            reader.join(30)
        assert max(health) < 1.0, health
        assert [state for state, _ in answers] == ["stale"] * 20
        waited = sorted(seconds for _, seconds in answers)
        assert sum(seconds >= 4.5 for seconds in waited) <= 2, waited  # only the capped waiters waited out
        api.close()
    finally:
        web.stop()

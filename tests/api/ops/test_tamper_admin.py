"""Tamper evidence as an operator sees it: hashes in the event admin, seals, verifications, /metrics."""

import re
import time
from collections.abc import Iterator
from io import StringIO

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from config.celery_app import app as celery_app
from eventstore.log.append import NO_STREAM, StreamWrite, append
from eventstore.models import Event, Verification
from eventstore.tamper.runs import PROGRESS_KEY, verification_progress
from eventstore.tamper.seals import seal_log
from orders_write.events import StockReceived
from tests.integration.eventstore.helpers import settle
from tests.integration.eventstore.test_tamper_evidence import sqlite_tamper
from tests.support.processes import database_url

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

EVENTS = "/admin/eventstore/event/"
SEALS = "/admin/eventstore/seal/"
VERIFICATIONS = "/admin/eventstore/verification/"
RUN = f"{VERIFICATIONS}run/"


@pytest.fixture(autouse=True)
def no_progress_left() -> Iterator[None]:
    cache.delete(PROGRESS_KEY)
    yield
    cache.delete(PROGRESS_KEY)


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "root-pass-123"))
    return client


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def _received(n: int) -> StockReceived:
    return StockReceived(product_id="lamp", quantity=n)


def _log() -> None:
    append(StreamWrite("Product-lamp", NO_STREAM, [_received(n) for n in range(1, 4)]))
    append(StreamWrite("Product-desk", NO_STREAM, [_received(n) for n in range(1, 3)]))
    settle()


def _verify_command() -> int:
    settle()
    try:
        call_command("verify_log", stdout=StringIO())
    except CommandError as exc:
        return exc.returncode
    return 0


def _tamper(sql: str, params: list) -> None:
    """Change the log behind the app's back: a superuser with triggers off (PostgreSQL), the file's holder (SQLite)."""
    if connection.vendor == "postgresql":
        with psycopg.connect(database_url("default"), autocommit=True) as raw:
            raw.execute("SET session_replication_role = replica")
            raw.execute(sql, params)
    else:
        sqlite_tamper(sql, params)


def _metric(body: str, name: str) -> float | None:
    match = re.search(rf"^{name} (\S+)$", body, re.M)
    return float(match.group(1)) if match else None


def test_event_admin_shows_each_events_hash_prefix_and_the_whole_hash_in_its_detail(admin_client) -> None:
    _log()
    event = Event.objects.get(stream_id="Product-lamp", version=2)
    assert len(event.hash) == 64
    listing = admin_client.get(EVENTS).content.decode()
    assert f'<code class="hash-prefix" title="{event.hash}">{event.hash[:12]}</code>' in listing
    detail = admin_client.get(f"{EVENTS}{event.position}/change/").content.decode()
    assert event.hash in detail


def test_seal_admin_lists_the_seals_read_only(admin_client) -> None:
    _log()
    seal = seal_log()
    assert seal is not None
    listing = admin_client.get(SEALS)
    assert listing.status_code == 200 and seal.digest[:12] in listing.content.decode()
    assert admin_client.get(f"{SEALS}add/").status_code == 403
    assert admin_client.post(f"{SEALS}{seal.id}/delete/", {"post": "yes"}).status_code == 403
    assert f"Last seal: #{seal.id}" in admin_client.get(VERIFICATIONS).content.decode()


def test_the_command_line_records_each_whole_log_verification_but_not_one_stream(admin_client) -> None:
    _log()
    assert _verify_command() == 0
    verification = Verification.objects.get()
    assert verification.ok and verification.events_checked == 5 and verification.streams_checked == 2
    assert verification.checkpoint_position == Event.objects.order_by("-position").first().position
    assert verification.started_by == ""
    call_command("verify_log", "--stream", "Product-lamp", stdout=StringIO())
    assert Verification.objects.count() == 1
    html = admin_client.get(VERIFICATIONS).content.decode()
    assert 'class="verification-ok"' in html and 'id="verify-now"' in html


def test_a_verification_result_is_append_only_in_the_model() -> None:
    _log()
    _verify_command()
    verification = Verification.objects.get()
    verification.ok = False
    with pytest.raises(Exception, match="cannot be changed"):
        verification.save()


def test_metrics_export_the_last_verification_and_seal_and_a_failure_after_tampering(admin_client) -> None:
    body = Client().get("/metrics").content.decode()
    assert _metric(body, "eventstore_last_verification_ok") is None  # no run yet: no sample, not a false 0
    _log()
    seal = seal_log()
    assert _verify_command() == 0
    body = Client().get("/metrics").content.decode()
    passed = Verification.objects.get()
    assert _metric(body, "eventstore_last_verification_ok") == 1
    assert _metric(body, "eventstore_last_verification_checkpoint_position") == passed.checkpoint_position
    assert _metric(body, "eventstore_last_verification_events_checked") == 5
    assert _metric(body, "eventstore_last_verification_timestamp_seconds") == pytest.approx(
        passed.finished_at.timestamp()
    )
    assert _metric(body, "eventstore_last_seal_checkpoint_position") == seal.checkpoint_position

    _tamper(
        "UPDATE eventstore_event SET data = %s WHERE stream_id = 'Product-lamp' AND version = 2",
        ['{"product_id": "lamp", "quantity": 200}'],
    )
    assert _verify_command() == 1
    failed = Verification.objects.order_by("-id").first()
    assert not failed.ok and (failed.failure_stream_id, failed.failure_version) == ("Product-lamp", 2)
    assert _metric(Client().get("/metrics").content.decode(), "eventstore_last_verification_ok") == 0
    html = admin_client.get(VERIFICATIONS).content.decode()
    assert "stream Product-lamp version 2: changed" in html and 'class="verification-failed"' in html
    ops = admin_client.get("/admin/operations/").content.decode()
    assert 'data-ok="0"' in ops and "stream Product-lamp version 2: changed" in ops


def test_a_second_run_is_refused_while_one_is_queued(admin_client) -> None:
    from eventstore.tamper.runs import store_progress

    store_progress("queued", started_by="someone")
    response = admin_client.post(RUN, follow=True)
    assert "A verification is already running." in response.content.decode()
    assert verification_progress()["started_by"] == "someone" and not Verification.objects.exists()


def test_the_admin_button_runs_a_verification_and_shows_its_progress(admin_client, eager_tasks) -> None:
    _log()
    response = admin_client.post(RUN, follow=True)
    html = response.content.decode()
    assert "Verification started" in html
    assert 'data-phase="done" data-done="5" data-total="5"' in html
    assert Verification.objects.get().started_by == "root"


@pytest.mark.worker
def test_a_verification_started_in_the_admin_runs_on_a_celery_worker(admin_client, celery_worker_process) -> None:
    """The real thing: the button queues a task, a `celery worker` process verifies, the page shows the result."""
    _log()
    admin_client.post(RUN)
    deadline = time.monotonic() + 60
    while (verification_progress() or {}).get("phase") != "done" and time.monotonic() < deadline:
        time.sleep(0.2)
    progress = verification_progress()
    assert progress["phase"] == "done" and progress["events_done"] == progress["events_total"] == 5
    verification = Verification.objects.get(id=progress["verification_id"])
    assert verification.ok and verification.started_by == "root"
    assert 'data-ok="1" data-events="5"' in admin_client.get("/admin/operations/").content.decode()


def test_a_broker_that_refuses_the_task_is_reported_not_a_server_error(admin_client, monkeypatch) -> None:
    from eventstore.tamper import tasks

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.verify_whole_log, "delay", refuse)
    response = admin_client.post(RUN, follow=True)
    assert response.status_code == 200
    assert "Could not start a verification: ConnectionError" in response.content.decode()
    assert verification_progress()["phase"] == "failed"  # a later click is not refused as "already running"

"""Idempotency records expire: kept IDEMPOTENCY_TTL_HOURS hours, then beat deletes them in batches."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders_write.models import IdempotencyRecord
from orders_write.tasks import purge_expired, purge_expired_idempotency_records
from tests.support.api import register

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _record(key: str, age: timedelta, user_id: int = 1) -> IdempotencyRecord:
    return IdempotencyRecord.objects.create(
        key=key,
        user_id=user_id,
        fingerprint="f" * 64,
        result="",
        created_at=timezone.now() - age,
    )


def test_the_ttl_defaults_to_a_day_and_beat_runs_the_purge() -> None:
    assert settings.IDEMPOTENCY_TTL_HOURS == 24
    assert settings.IDEMPOTENCY_PURGE_BATCH == 5000
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "orders_write.tasks.purge_expired_idempotency_records" in tasks


def test_created_at_is_indexed() -> None:
    constraints = connection.introspection.get_constraints(connection.cursor(), IdempotencyRecord._meta.db_table)
    assert any(c["index"] and c["columns"] == ["created_at"] for c in constraints.values()), constraints


def test_the_purge_deletes_only_expired_records_in_batches_until_none_is_left() -> None:
    for i in range(5):
        _record(f"old-{i}", timedelta(hours=24, minutes=1 + i))
    _record("young", timedelta(hours=23, minutes=59))
    _record("new", timedelta(0))
    with CaptureQueriesContext(connection) as queries:
        assert purge_expired(batch_size=2) == 5
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("DELETE")]
    assert len(deletes) == 3  # 2 + 2 + 1: a short batch ends the loop
    assert all("LIMIT 2" in sql.upper() for sql in deletes), deletes  # each statement bounded
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new", "young"]
    assert purge_expired(batch_size=2) == 0


def test_the_beat_task_uses_the_configured_ttl(settings) -> None:
    settings.IDEMPOTENCY_TTL_HOURS = 1
    _record("two-hours", timedelta(hours=2))
    _record("half-an-hour", timedelta(minutes=30))
    assert purge_expired_idempotency_records() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["half-an-hour"]


def test_an_expired_key_is_evaluated_afresh(staff_client) -> None:
    register(staff_client, "ttl-lamp", name="Lamp", key="ttl-key")
    register(staff_client, "ttl-lamp", name="Other lamp", key="ttl-key", expect=422)  # the key is remembered
    IdempotencyRecord.objects.filter(key="ttl-key").update(created_at=timezone.now() - timedelta(hours=25))
    assert purge_expired_idempotency_records() == 1
    again = register(staff_client, "ttl-lamp", name="Other lamp", key="ttl-key", expect=None)
    assert again.status_code == 409 and again.json()["code"] == "already_exists"  # run afresh, not replayed

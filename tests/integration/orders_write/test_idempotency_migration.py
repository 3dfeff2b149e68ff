"""Keys answered before idempotency stored domain results still replay the same answer afterwards."""

import json
from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from orders_write.idempotency import fingerprint
from tests.support.api import event_count

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

BEFORE = [("orders_write", "0003_idempotency_created_at_index")]
AFTER = [("orders_write", "0004_idempotency_stores_the_domain_result")]


def _migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.fixture
def old_schema() -> Iterator[None]:
    _migrate(BEFORE)
    try:
        yield
    finally:
        _migrate(AFTER)


def test_an_answer_stored_before_the_migration_replays_unchanged_after_it(
    old_schema: None, staff_client: APIClient, staff_user: object
) -> None:
    body = {"sku": "cup", "name": "Cup", "price": "2.00", "initial_stock": 1}
    old_answer = {"id": "cup", "version": 2, "consistency_token": "0-7"}
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO orders_write_idempotency"
            " (key, user_id, fingerprint, status_code, body, headers, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                "before-deploy",
                staff_user.pk,
                fingerprint("POST", "/api/products/", body),
                201,
                json.dumps(old_answer),
                json.dumps({"ETag": '"2"', "X-Consistency-Token": "0-7"}),
                connection.ops.adapt_datetimefield_value(timezone.now()),
            ],
        )
    _migrate(AFTER)
    before = event_count()

    replay = staff_client.post("/api/products/", body, format="json", HTTP_IDEMPOTENCY_KEY="before-deploy")

    assert replay.status_code == 201
    assert list(replay.json().items()) == list(old_answer.items())
    assert (replay["ETag"], replay["X-Consistency-Token"]) == ('"2"', "0-7")
    assert event_count() == before  # replayed, not run: "cup" was never registered here

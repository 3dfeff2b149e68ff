"""A tiny projection of the tests' own (stock per product) with its own table, for the operations tests.

The operations machinery (rebuild, status, resume, projector, readiness) is generic;
testing it on a projection whose table the tests create and drop keeps those tests
independent of the real views. It is registered only while a test uses it, so the
rest of the suite never runs it. A product named POISON makes its batch fail.
"""

import time
from collections.abc import Iterator, Sequence
from decimal import Decimal

import pytest
from django.apps.registry import Apps
from django.core.cache import cache
from django.db import connections, models

from eventstore.log.append import NO_STREAM, RecordedEvent, StreamWrite, append, head
from eventstore.projections import base as projections
from eventstore.projections.base import Projection, Target
from eventstore.rebuild import shadow_tables
from eventstore.rebuild.orchestration import progress_key
from eventstore.routers import read_db_alias
from orders_write.events import ProductRegistered, StockReceived

NAME = "ops_stock_counts"
POISON = "POISON"


ISOLATED_APPS = Apps(installed_apps=())
"""Its own model registry, so makemigrations never sees the tests' model."""


class StockCount(models.Model):
    sku = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=255)
    on_hand = models.IntegerField(default=0)
    events = models.IntegerField(default=0)

    class Meta:
        apps = ISOLATED_APPS
        app_label = "ops_tests"
        managed = False
        db_table = "ops_test_stock_count"
        indexes = [models.Index(fields=("name",), name="ops_test_stock_count_name")]


class StockCountProjection(Projection):
    """Stock on hand per product: folds a batch in memory, then one upsert per batch."""

    name = NAME
    version = 1
    handles = (ProductRegistered, StockReceived)
    models = (StockCount,)

    def apply(self, batch: Sequence[RecordedEvent], target: Target) -> None:
        connection = connections[target.using]
        table = connection.ops.quote_name(target.table(StockCount))
        skus = sorted({e.data["product_id"] for e in batch})
        with connection.cursor() as cursor:
            marks = ", ".join(["%s"] * len(skus))
            cursor.execute(f"SELECT sku, name, on_hand, events FROM {table} WHERE sku IN ({marks})", skus)
            rows = {sku: [sku, name, on_hand, events] for sku, name, on_hand, events in cursor.fetchall()}
            for event in batch:
                sku = event.data["product_id"]
                if event.event_type == "ProductRegistered":
                    if event.data["name"] == POISON:
                        raise ValueError("poison product")
                    rows[sku] = [sku, event.data["name"], 0, 1]
                else:
                    rows[sku][2] += event.data["quantity"]
                    rows[sku][3] += 1
            values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
            cursor.execute(
                f"INSERT INTO {table} (sku, name, on_hand, events) VALUES {values} ON CONFLICT (sku) DO UPDATE"
                " SET name = excluded.name, on_hand = excluded.on_hand, events = excluded.events",
                [v for row in rows.values() for v in row],
            )


def view_rows(table: str = StockCount._meta.db_table) -> list[tuple]:
    connection = connections[read_db_alias()]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT sku, name, on_hand, events FROM {connection.ops.quote_name(table)} ORDER BY sku")
        return [tuple(row) for row in cursor.fetchall()]


def add_products(count: int, *, receipts: int = 1, prefix: str = "p") -> None:
    """`count` products, each registered then receiving `receipts` deliveries of 1..n units."""
    for i in range(count):
        sku = f"{prefix}{i:05d}"
        events = [ProductRegistered(product_id=sku, name=f"Product {i}", description="", price=Decimal("1.00"))]
        events += [StockReceived(product_id=sku, quantity=n + 1) for n in range(receipts)]
        append(StreamWrite(f"Product-{sku}", NO_STREAM, events))
    wait_until_readable()


def wait_until_readable(timeout: float = 30.0) -> None:
    """Wait until readers may take every committed event.

    On PostgreSQL a reader only takes events below the oldest running transaction of the
    whole cluster (DESIGN.md); any other session's open transaction (another test run,
    a CREATE DATABASE) briefly holds new events back. Tests that expect a catch-up to
    see what they just appended wait for that first, instead of failing at random.
    """
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(position), 0) FROM eventstore_event")
        last = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while head().position < last:
        if time.monotonic() > deadline:
            raise AssertionError(f"events up to position {last} still unreadable after {timeout}s")
        time.sleep(0.02)


def expected_rows(count: int, *, receipts: int = 1, prefix: str = "p") -> list[tuple]:
    on_hand = receipts * (receipts + 1) // 2
    return [(f"{prefix}{i:05d}", f"Product {i}", on_hand, receipts + 1) for i in range(count)]


def table_exists(table: str) -> bool:
    connection = connections[read_db_alias()]
    with connection.cursor() as cursor:
        return table in connection.introspection.table_names(cursor)


@pytest.fixture
def counting_projection(transactional_db: None) -> Iterator[StockCountProjection]:
    """Registers the projection and creates its table on the read database; undoes both after."""
    connection = connections[read_db_alias()]
    table = StockCount._meta.db_table
    for leftover in (table, shadow_tables.shadow_name(table), table + shadow_tables.OLD_SUFFIX):
        shadow_tables.drop_table(connection, leftover)
    with connection.schema_editor() as editor:
        editor.create_model(StockCount)
        for index in StockCount._meta.indexes:  # create_model() leaves them out for unmanaged models
            editor.add_index(StockCount, index)
    projections.register(StockCountProjection)
    try:
        yield projections.get_projection(NAME)
    finally:
        projections.unregister(NAME)
        cache.delete(progress_key(NAME))
        for leftover in (table, shadow_tables.shadow_name(table), table + shadow_tables.OLD_SUFFIX):
            shadow_tables.drop_table(connection, leftover)

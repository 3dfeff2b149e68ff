"""Blue/green swaps keep the real views' PostgreSQL extras: generated tsvector, GIN/trigram indexes, names."""

from decimal import Decimal

import pytest
from django.db import connections

from eventstore.projections.runner import catch_up
from eventstore.rebuild.orchestration import rebuild_projection
from eventstore.routers import read_db_alias
from orders_read.models import VIEW_MODELS
from orders_write.bus import dispatch
from orders_write.commands import CreateOrder, Metadata, OrderLine, RegisterProduct
from tests.integration.ops.counting import wait_until_readable

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.postgres]

STAFF = Metadata(user="staff", is_staff=True)


def _shape(table: str) -> tuple[list[tuple], list[tuple]]:
    """Columns (with their generation expression) and index definitions, by name."""
    with connections[read_db_alias()].cursor() as cursor:
        cursor.execute(
            "SELECT attname, attgenerated, pg_get_expr(adbin, adrelid) FROM pg_attribute"
            " LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum"
            " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [table],
        )
        columns = cursor.fetchall()
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", [table])
        indexes = cursor.fetchall()
    return columns, indexes


def _empty_views() -> None:
    with connections[read_db_alias()].cursor() as cursor:
        for model in VIEW_MODELS:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")


@pytest.fixture(autouse=True)
def clean_views(django_db_blocker) -> None:
    """The view tables are unmanaged: the test runner's flush leaves their rows behind."""
    with django_db_blocker.unblock():
        _empty_views()
    yield
    with django_db_blocker.unblock():
        _empty_views()


def test_two_swaps_keep_columns_indexes_and_full_text_search_of_the_real_views() -> None:
    dispatch(
        RegisterProduct(metadata=STAFF, sku="lamp-1", name="Brass desk lamp", price=Decimal("30.00"), initial_stock=5)
    )
    dispatch(
        CreateOrder(
            metadata=STAFF,
            customer_id="alice",
            items=(OrderLine(product_id="lamp-1", quantity=2),),
            shipping_address={"city": "Oslo"},
        )
    )
    wait_until_readable()
    names = ("catalogue", "order_summary", "daily_sales")
    for name in names:
        catch_up(name)
    tables = [model._meta.db_table for model in VIEW_MODELS]
    before = {table: _shape(table) for table in tables}
    assert any(generated == "s" for _, generated, _ in before["orders_read_product"][0])

    for _ in range(2):
        for name in names:
            rebuild_projection(name)

    after = {table: _shape(table) for table in tables}
    assert after == before
    with connections[read_db_alias()].cursor() as cursor:
        cursor.execute("SELECT sku FROM orders_read_product WHERE search_vector @@ plainto_tsquery('simple', 'brass')")
        assert cursor.fetchall() == [("lamp-1",)]
        cursor.execute("SELECT customer_id, item_count FROM orders_read_order_summary")
        assert cursor.fetchall() == [("alice", 2)]
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname LIKE %s",
            ["%\\_\\_shadow%"],
        )  # projections' TEMP staging tables aside
        assert cursor.fetchall() == []

"""Views built incrementally, batch by small batch, equal the views built from scratch, row for row."""

import random
from decimal import Decimal

import pytest
from django.db import connections

from eventstore.backends.postgres import tables as postgres_tables
from eventstore.models import ProjectionState
from eventstore.projections.keyed import KeyedFill
from eventstore.rebuild import fresh_fill, parallel
from eventstore.rebuild.orchestration import rebuild_progress, rebuild_projection, rebuild_projections
from eventstore.routers import read_db_alias
from orders_read.models import VIEW_MODELS, ProductView
from orders_write.bus import dispatch
from orders_write.commands import (
    AddOrderItem,
    CancelOrder,
    ChangePrice,
    CreateOrder,
    Metadata,
    OrderLine,
    ReceiveStock,
    RegisterProduct,
    ShipOrder,
)
from orders_write.errors import DomainError
from tests.integration.orders_read.support import NAMES, catch_up_all, empty_views, view_rows
from tests.support.services import on_postgres

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("manual_projections"),
]

STAFF = Metadata(user="staff", is_staff=True)


def random_workload(rng: random.Random, commands: int) -> None:
    """A random mix of every command; refused ones (stock short, not pending) append nothing."""
    skus = [f"SKU-{i}" for i in range(6)]
    for sku in skus:
        price = Decimal(rng.randint(100, 999)) / 100
        dispatch(
            RegisterProduct(
                metadata=STAFF, sku=sku, name=f"Thing\t{sku} \\N \\\n", price=price, initial_stock=rng.randint(0, 20)
            )
        )
    orders: list[str] = []
    for step in range(commands):
        kind = rng.random()
        try:
            if kind < 0.35 or not orders:
                lines = tuple(
                    OrderLine(product_id=rng.choice(skus), quantity=rng.randint(1, 4)) for _ in range(rng.randint(1, 3))
                )
                orders.append(
                    dispatch(
                        CreateOrder(
                            metadata=STAFF,
                            customer_id=f"cust{rng.randint(1, 4)}",
                            items=lines,
                            shipping_address={"n": str(step)},
                        )
                    ).id
                )
            elif kind < 0.5:
                dispatch(
                    AddOrderItem(
                        metadata=STAFF,
                        order_id=rng.choice(orders),
                        product_id=rng.choice(skus),
                        quantity=rng.randint(1, 3),
                    )
                )
            elif kind < 0.62:
                reason = f"r{step}\tcomma, quote' tab\\t"  # COPY's text format must escape these
                dispatch(CancelOrder(metadata=STAFF, order_id=rng.choice(orders), reason=reason))
            elif kind < 0.74:
                dispatch(ShipOrder(metadata=STAFF, order_id=rng.choice(orders)))
            elif kind < 0.9:
                dispatch(ReceiveStock(metadata=STAFF, sku=rng.choice(skus), quantity=rng.randint(1, 15)))
            else:
                dispatch(ChangePrice(metadata=STAFF, sku=rng.choice(skus), price=Decimal(rng.randint(100, 999)) / 100))
        except DomainError:
            pass
        if rng.random() < 0.2:
            catch_up_all(batch_size=rng.randint(1, 7))


def snapshot() -> dict[str, list[tuple]]:
    return {model.__name__: view_rows(model) for model in VIEW_MODELS}


def test_incremental_views_equal_views_rebuilt_from_scratch(monkeypatch: pytest.MonkeyPatch) -> None:
    random_workload(random.Random(20261124), commands=150)
    catch_up_all(batch_size=3)
    incremental = snapshot()
    assert len(incremental["OrderSummary"]) > 20 and incremental["ProductView"] and incremental["DailySales"]

    empty_views()
    ProjectionState.objects.using(read_db_alias()).update(checkpoint_txid=0, checkpoint_position=0)
    monkeypatch.setattr(postgres_tables, "COPY_FROM_ROWS", 1)  # big-batch path (COPY on PostgreSQL), escapes included
    catch_up_all(batch_size=20_000)
    assert snapshot() == incremental

    for name in NAMES:  # and the blue/green rebuild into shadow tables gives the same rows
        rebuild_projection(name)
    assert snapshot() == incremental

    # A fill that outgrows its memory flushes and reads rows back: COPY the new, upsert the read-back ones.
    flushes: list[int] = []
    flush = KeyedFill.flush

    def counted_flush(fill: KeyedFill, chunk: int) -> None:
        flushes.append(len(fill.stored))
        flush(fill, chunk)

    monkeypatch.setattr(KeyedFill, "flush", counted_flush)
    monkeypatch.setattr(fresh_fill, "MAX_HELD_ROWS", 1)
    for name in NAMES:
        rebuild_projection(name, batch_size=4)
    assert snapshot() == incremental
    assert len(flushes) > 10 and any(flushes)  # it did flush mid-fill, and rows were read back


def test_projections_rebuilt_side_by_side_neither_lose_nor_duplicate_rows(settings) -> None:
    """Each worker process fills its own projection's shadows; the views after equal the incremental ones."""
    random_workload(random.Random(20261129), commands=120)
    catch_up_all(batch_size=3)
    incremental = snapshot()
    assert len(incremental["OrderSummary"]) > 20 and incremental["ProductView"] and incremental["DailySales"]
    settings.PROJECTION_REBUILD_PROCESSES = 2
    # Side by side on PostgreSQL; SQLite serializes its writers, so there they run in turn.
    assert parallel.processes_for(NAMES) == (2 if on_postgres() else 1)
    with connections[read_db_alias()].cursor() as cursor:  # rows a lost swap would leave behind
        cursor.execute(f"DELETE FROM {ProductView._meta.db_table}")
    seen: list[tuple[int, int]] = []

    reports = rebuild_projections(NAMES, batch_size=5, progress=lambda done, total: seen.append((done, total)))

    assert snapshot() == incremental
    assert [r.name for r in reports] == list(NAMES)
    events = sum(r.events for r in reports)
    assert seen[-1] == (events, events)  # one bar: the sums over every projection
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    for report in reports:
        progress = rebuild_progress(report.name)
        assert progress is not None
        assert (progress["phase"], progress["events_done"]) == ("done", report.events)
    states = ProjectionState.objects.using(read_db_alias()).filter(name__in=NAMES)
    assert {s.name: s.events_applied for s in states} == {r.name: r.events for r in reports}

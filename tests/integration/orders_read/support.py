"""Helpers for read-side tests: a log writer for exact event sequences, view snapshots,
and fixtures that keep the (unmanaged, so never flushed) view tables clean."""

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connections

from config.celery_app import app as celery_app
from eventstore.log.append import ANY, AppendResult, StreamWrite, append, count_after, head
from eventstore.projections import runner
from eventstore.projections.base import all_projections
from eventstore.projections.runner import catch_up
from eventstore.projections.wakeups import pending_key
from eventstore.routers import read_db_alias
from orders_read.models import VIEW_MODELS
from orders_write.events import (
    OrderCancelled,
    OrderCreated,
    OrderItemAdded,
    OrderShipped,
    PriceChanged,
    ProductRegistered,
    StockReceived,
    StockReleased,
    StockReserved,
    StockShipped,
)

NAMES = ("catalogue", "daily_sales", "order_summary")


def empty_views() -> None:
    with connections[read_db_alias()].cursor() as cursor:
        for model in VIEW_MODELS:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")


@pytest.fixture(autouse=True)
def clean_views(django_db_blocker: Any) -> Iterator[None]:
    """View tables are unmanaged, so the test runner's flush leaves their rows behind."""
    with django_db_blocker.unblock():
        empty_views()
    yield
    with django_db_blocker.unblock():
        empty_views()


def wait_readable(timeout: float = 60.0) -> None:
    """Wait until every committed event is readable by the tail.

    The PostgreSQL cluster is shared: any transaction holding an xid in any of its
    databases (another test run, a benchmark) hides newer events from every reader
    until it ends (DESIGN.md). Tests that expect "all of it" wait for that first.
    """
    deadline = time.monotonic() + timeout
    while count_after(head()) and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def eager_tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run projection tasks in-process at commit, as the embedded default does (even with Redis).

    The runner's wait for events hidden by another transaction is stretched, so a
    command's projection is never cut short by unrelated work on the shared cluster.
    """
    monkeypatch.setattr(runner, "IN_FLIGHT_WAIT_SECONDS", 60.0)
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    cache.delete_many([pending_key(p.name) for p in all_projections()])
    yield
    celery_app.conf.task_always_eager = before
    cache.delete_many([pending_key(p.name) for p in all_projections()])


@pytest.fixture
def manual_projections() -> Iterator[None]:
    """No commit triggers a catch-up (eager or via a worker): the test runs the runner itself."""
    from eventstore.projections.wakeups import request_catch_up
    from eventstore.signals import events_committed

    events_committed.disconnect(dispatch_uid="eventstore.request_catch_up")
    yield
    events_committed.connect(request_catch_up, dispatch_uid="eventstore.request_catch_up")


def catch_up_all(batch_size: int | None = None) -> None:
    wait_readable()
    for name in NAMES:
        catch_up(name, batch_size=batch_size)


def view_rows(model: Any) -> list[tuple]:
    """Every row of a view table, in key order: for row-for-row comparisons."""
    table = model._meta.db_table
    with connections[read_db_alias()].cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY {model._meta.pk.column}")
        return cursor.fetchall()


class LogWriter:
    """Appends valid event sequences straight to the log, as the write side would."""

    def __init__(self) -> None:
        self.prices: dict[str, Decimal] = {}
        self.names: dict[str, str] = {}
        self.lines: dict[str, list[tuple[str, int]]] = {}

    def product(
        self, sku: str, *, name: str | None = None, price: str = "10.00", stock: int = 0, description: str = ""
    ) -> AppendResult:
        self.prices[sku], self.names[sku] = Decimal(price), name or f"Product {sku}"
        events: list[Any] = [
            ProductRegistered(product_id=sku, name=self.names[sku], description=description, price=Decimal(price))
        ]
        if stock:
            events.append(StockReceived(product_id=sku, quantity=stock))
        return append(StreamWrite(f"Product-{sku}", ANY, events))

    def receive(self, sku: str, quantity: int) -> AppendResult:
        return append(StreamWrite(f"Product-{sku}", ANY, [StockReceived(product_id=sku, quantity=quantity)]))

    def reprice(self, sku: str, price: str) -> AppendResult:
        old, self.prices[sku] = self.prices[sku], Decimal(price)
        return append(
            StreamWrite(f"Product-{sku}", ANY, [PriceChanged(product_id=sku, old_price=old, new_price=Decimal(price))])
        )

    def order(
        self,
        customer: str,
        lines: list[tuple[str, int]],
        *,
        order_id: str | None = None,
        address: dict[str, str] | None = None,
    ) -> tuple[str, AppendResult]:
        order_id = order_id or str(uuid.uuid4())
        self.lines[order_id] = list(lines)
        events: list[Any] = [
            OrderCreated(order_id=order_id, customer_id=customer, shipping_address=address or {"city": "Lyon"})
        ]
        products: dict[str, list[Any]] = {}
        for sku, quantity in lines:
            events.append(
                OrderItemAdded(
                    order_id=order_id,
                    product_id=sku,
                    name=self.names[sku],
                    quantity=quantity,
                    unit_price=self.prices[sku],
                )
            )
            products.setdefault(sku, []).append(StockReserved(product_id=sku, order_id=order_id, quantity=quantity))
        writes = [StreamWrite(f"Order-{order_id}", ANY, events)]
        writes += [StreamWrite(f"Product-{sku}", ANY, evs) for sku, evs in products.items()]
        return order_id, append(*writes)

    def cancel(self, order_id: str, reason: str = "changed my mind", by: str = "customer") -> AppendResult:
        writes = [
            StreamWrite(f"Order-{order_id}", ANY, [OrderCancelled(order_id=order_id, reason=reason, cancelled_by=by)])
        ]
        writes += self._product_writes(order_id, StockReleased)
        return append(*writes)

    def ship(self, order_id: str, by: str = "staff") -> AppendResult:
        writes = [StreamWrite(f"Order-{order_id}", ANY, [OrderShipped(order_id=order_id, shipped_by=by)])]
        writes += self._product_writes(order_id, StockShipped)
        return append(*writes)

    def _product_writes(self, order_id: str, event: type) -> list[StreamWrite]:
        per_sku: dict[str, int] = {}
        for sku, quantity in self.lines[order_id]:
            per_sku[sku] = per_sku.get(sku, 0) + quantity
        return [
            StreamWrite(f"Product-{sku}", ANY, [event(product_id=sku, order_id=order_id, quantity=q)])
            for sku, q in per_sku.items()
        ]

"""The log is the truth: fold it here, independently of the projections, and compare the views.

Every fault test ends with the same question: is each accepted command in the views
exactly once? A view version equal to its stream version, stock equal to the sum of
the stock events and one order row per OrderCreated answer it: an event applied twice
or skipped shows up as a difference. Views are read over HTTP (the contract), the log
through the Event model (the source of truth).
"""

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connections
from django.db.models import Count

from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.models import Event, ProjectionState
from eventstore.projections.base import all_projections
from eventstore.routers import read_db_alias
from tests.support.api import ApiClient


@dataclass
class ProductFold:
    on_hand: int = 0
    reserved: int = 0
    version: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass
class OrderFold:
    customer_id: str = ""
    status: str = "pending"
    item_count: int = 0
    version: int = 0
    skus: list[str] = field(default_factory=list)


def fold_products(skus: Iterable[str]) -> dict[str, ProductFold]:
    """Stock of each product as its stream says (API.md: reserve, release, ship)."""
    folds = {sku: ProductFold() for sku in skus}
    events = Event.objects.filter(stream_id__in=[f"Product-{sku}" for sku in folds]).order_by("stream_id", "version")
    for event in events:
        fold = folds[event.stream_id.removeprefix("Product-")]
        quantity = int(event.data.get("quantity", 0))
        match event.event_type:
            case "StockReceived":
                fold.on_hand += quantity
            case "StockReserved":
                fold.reserved += quantity
            case "StockReleased":
                fold.reserved -= quantity
            case "StockShipped":
                fold.on_hand -= quantity
                fold.reserved -= quantity
        fold.version = event.version
    return folds


def fold_orders(customer_ids: Iterable[str]) -> dict[str, OrderFold]:
    """Every order the log holds for these customers, folded from its stream."""
    created = Event.objects.filter(event_type="OrderCreated", data__customer_id__in=list(customer_ids))
    folds = {e.data["order_id"]: OrderFold(customer_id=e.data["customer_id"]) for e in created}
    events = Event.objects.filter(stream_id__in=[f"Order-{oid}" for oid in folds]).order_by("stream_id", "version")
    for event in events:
        fold = folds[event.stream_id.removeprefix("Order-")]
        match event.event_type:
            case "OrderItemAdded":
                fold.item_count += int(event.data["quantity"])
                fold.skus.append(event.data["product_id"])
            case "OrderCancelled":
                fold.status = "cancelled"
            case "OrderShipped":
                fold.status = "shipped"
        fold.version = event.version
    return folds


def view_mismatches(api: ApiClient, *, skus: Iterable[str], customer_ids: Iterable[str]) -> list[str]:
    """Every way the views differ from the log for these products and customers (empty: equal)."""
    problems: list[str] = []
    for sku, fold in fold_products(skus).items():
        response = api.product(sku)
        if response.status_code != 200:
            problems.append(f"product {sku}: view answered {response.status_code}")
            continue
        view = response.json()
        expected = {
            "on_hand": fold.on_hand,
            "reserved": fold.reserved,
            "available": fold.available,
            "version": fold.version,
        }
        actual = {name: view.get(name) for name in expected}
        if actual != expected:
            problems.append(f"product {sku}: view {actual} != log {expected}")
    customers = list(customer_ids)
    orders = fold_orders(customers)
    for customer in customers:
        listed = sorted(row["order_id"] for row in api.orders_of(customer))
        logged = sorted(oid for oid, fold in orders.items() if fold.customer_id == customer)
        if listed != logged:
            problems.append(f"customer {customer}: {len(listed)} orders listed, {len(logged)} in the log")
    for order_id, fold in orders.items():
        response = api.order(order_id)
        if response.status_code != 200:
            problems.append(f"order {order_id}: view answered {response.status_code}")
            continue
        view = response.json()
        expected_order = {"status": fold.status, "item_count": fold.item_count, "version": fold.version}
        actual_order = {name: view.get(name) for name in expected_order}
        if actual_order != expected_order:
            problems.append(f"order {order_id}: view {actual_order} != log {expected_order}")
    return problems


def wait_for_views_to_match(
    api: ApiClient,
    *,
    skus: Iterable[str],
    customer_ids: Iterable[str],
    timeout: float = 60.0,
    nudge: Callable[[], None] | None = None,
) -> None:
    """Poll until the views equal the log (calling `nudge` between polls), or fail listing the differences.

    Projections are eventually consistent, so equality is awaited, within a bound; the
    assertion is about the final state, never about how fast it came.
    """
    skus, customer_ids = list(skus), list(customer_ids)
    deadline = time.monotonic() + timeout
    while True:
        problems = view_mismatches(api, skus=skus, customer_ids=customer_ids)
        if not problems:
            return
        broken = [p for p in problems if "view answered 5" in p]
        assert not broken, "views answered server errors (a bug, not lag):\n" + "\n".join(broken[:30])
        if time.monotonic() > deadline:
            raise AssertionError(f"views still differ from the log after {timeout}s:\n" + "\n".join(problems[:30]))
        if nudge is not None:
            nudge()
        time.sleep(0.5)


def events_applied() -> dict[str, int]:
    """Per projection, how many events its runner says it applied (ProjectionState.events_applied)."""
    states = ProjectionState.objects.using(read_db_alias()).values_list("name", "events_applied")
    found = dict(states)
    return {p.name: found.get(p.name, 0) for p in all_projections()}


def handled_events_in_log() -> dict[str, int]:
    """Per projection, how many events of the types it handles the log holds."""
    per_type = dict(Event.objects.values_list("event_type").annotate(n=Count("position")).order_by())
    counts: dict[str, int] = defaultdict(int)
    for projection in all_projections():
        counts[projection.name] = sum(per_type.get(t, 0) for t in projection.handled_types())
    return dict(counts)


def last_committed() -> Checkpoint:
    """The checkpoint of the last event committed so far, visible to readers or not.

    `eventstore.log.append.head()` is the last event a reader may take *now*, which lags
    while any transaction in the cluster is open (other test runs share it). Once every
    command of a test has answered, its events are committed, so this is the point
    every projection must pass.
    """
    with connections["default"].cursor() as cursor:
        if connections["default"].vendor == "postgresql":
            cursor.execute(
                "SELECT transaction_id::text AS txid, position FROM eventstore_event"
                " ORDER BY transaction_id DESC, position DESC LIMIT 1"
            )
        else:
            cursor.execute("SELECT 0, position FROM eventstore_event ORDER BY position DESC LIMIT 1")
        row = cursor.fetchone()
    return Checkpoint(int(row[0]), int(row[1])) if row else ORIGIN


def projections_at_head() -> bool:
    """True when every projection's checkpoint has passed the last committed event (nothing left to apply)."""
    last = last_committed()
    states = {s.name: s.checkpoint for s in ProjectionState.objects.using(read_db_alias())}
    return all(states.get(p.name, ORIGIN) >= last for p in all_projections())

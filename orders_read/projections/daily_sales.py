"""DailySalesProjection: per-UTC-day counts, summed in memory and added to the stored rows."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar

from django.db import transaction

from eventstore.log.read import Recorded
from eventstore.projections.base import Projection, Target, register
from eventstore.projections.sql import db_date, money, upsert
from eventstore.rebuild.fresh_fill import FreshFill
from orders_read.models import DailySales
from orders_write.events import OrderCancelled, OrderCreated, OrderItemAdded

COLUMNS = ("date", "orders", "units", "revenue", "cancelled")


@register
class DailySalesProjection(Projection):
    """Every figure belongs to the day of its own event (see DailySales), so a batch is
    one GROUP BY in memory and one additive upsert: no stored row is ever read."""

    name: ClassVar[str] = "daily_sales"
    version: ClassVar[int] = 1
    handles = (OrderCreated, OrderItemAdded, OrderCancelled)
    models = (DailySales,)
    needs_metadata: ClassVar[bool] = False
    """Folds read only payloads, types, versions and times: a rebuild may skip metadata (log_reader)."""

    def apply(self, batch: Sequence[Recorded], target: Target) -> None:
        days: dict[date, Day] = defaultdict(Day)
        _add(days, batch)
        _upsert(target, days)

    def fresh_fill(self, target: Target) -> "DailySalesFill":
        return DailySalesFill(target)


class DailySalesFill(FreshFill):
    """A rebuild's sums per day, kept across batches: one additive upsert of a few rows at the end."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.days: dict[date, Day] = defaultdict(Day)

    def fold(self, batch: Sequence[Recorded]) -> None:
        _add(self.days, batch)

    def held(self) -> int:
        return len(self.days)

    def flush(self, chunk: int) -> None:
        with transaction.atomic(using=self.target.using):  # a row per day: one short transaction
            _upsert(self.target, self.days)
        self.days = defaultdict(Day)


@dataclass(slots=True)
class Day:
    """One day's figures summed over a batch (or a whole fill): what is added to its stored row."""

    orders: int = 0
    units: int = 0
    revenue: Decimal = Decimal("0.00")
    cancelled: int = 0


def _add(days: dict[date, Day], batch: Sequence[Recorded]) -> None:
    for recorded in batch:
        day = days[recorded.recorded_at.date()]
        match recorded.to_domain():
            case OrderCreated():
                day.orders += 1
            case OrderItemAdded(quantity=quantity, unit_price=unit_price):
                day.units += quantity
                day.revenue += money(unit_price) * quantity
            case OrderCancelled():
                day.cancelled += 1
            case _:
                raise ValueError(f"daily_sales does not handle {recorded.event_type}")


def _upsert(target: Target, days: dict[date, Day]) -> None:
    rows = [(db_date(target, d), x.orders, x.units, x.revenue, x.cancelled) for d, x in sorted(days.items())]
    upsert(
        target,
        DailySales,
        COLUMNS,
        rows,
        key="date",
        additive=frozenset({"orders", "units", "revenue", "cancelled"}),
        money_columns=frozenset({"revenue"}),
    )

"""The operations page's figures: events per minute, lag history, daily sales, rebuilds, verification.

Each function reads what it shows from where it lives (the log, the lag samples, the
daily-sales view, the cache) at request time, so any web process answers the same.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncMinute

from eventstore.lag_history import lag_history
from eventstore.models import Event, LagSample, Seal, Verification
from eventstore.projections.base import all_projections
from eventstore.rebuild.orchestration import rebuild_progress
from eventstore.tamper.runs import ACTIVE_PHASES, last_verification, verification_progress
from eventstore.tamper.seals import last_seal
from orders_read.queries import GetDailySales, get_daily_sales

REBUILD_ACTIVE_PHASES = frozenset({"queued", "running", "swapping"})


def minute_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def events_per_minute(*, now: datetime, minutes: int = 60) -> list[tuple[datetime, int]]:
    """Events recorded in each of the last `minutes` minutes (UTC, oldest first; the last one is still going).

    `recorded_at` has no index (it would cost every append), so the scan is bounded by
    position instead: the first position recorded in the window is found by a binary
    search on the primary key (recording time rises with position, give or take the
    milliseconds between a writer reading the clock and inserting), then only that
    window's events are grouped.
    """
    first_minute = minute_of(now) - timedelta(minutes=minutes - 1)
    counts: Counter[datetime] = Counter()
    bound = first_position_since(first_minute)
    if bound is not None:
        rows = (
            Event.objects.filter(position__gte=bound, recorded_at__gte=first_minute)
            .annotate(minute=TruncMinute("recorded_at", tzinfo=UTC))
            .order_by()
            .values_list("minute")
            .annotate(events=Count("position"))
        )
        counts.update({minute_of(minute): events for minute, events in rows})
    return [(first_minute + timedelta(minutes=i), counts[first_minute + timedelta(minutes=i)]) for i in range(minutes)]


def first_position_since(since: datetime) -> int | None:
    """A position at or before the first event recorded at `since` or later (None: none was)."""
    events = Event.objects.order_by("position").values_list("position", "recorded_at")
    last = events.reverse().first()
    if last is None or last[1] < since:
        return None
    low, high = events.first()[0], last[0]  # type: ignore[index]  # the log is not empty here
    while low < high:
        middle = (low + high) // 2
        found = events.filter(position__gte=middle).first()
        assert found is not None  # `high` itself exists and is at or after `middle`
        if found[1] < since:
            low = found[0] + 1
        else:
            high = middle
    return low


@dataclass(frozen=True, slots=True)
class SalesDay:
    date: date
    orders: int
    units: int
    revenue: Decimal
    cancelled: int


def daily_sales(*, today: date, days: int = 30) -> list[SalesDay]:
    """The last `days` days up to today, oldest first, a day without sales as zeros."""
    first = today - timedelta(days=days - 1)
    rows = {row.date: row for row in get_daily_sales(GetDailySales(date_from=first, date_to=today))}
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = rows.get(day)
        result.append(
            SalesDay(day, row.orders, row.units, row.revenue, row.cancelled)
            if row
            else SalesDay(day, 0, 0, Decimal("0.00"), 0)
        )
    return result


def projection_lag(*, since: datetime) -> dict[str, list[LagSample]]:
    """Every registered projection's lag samples since `since` (an empty list before its first sample)."""
    history = lag_history(since=since)
    return {projection.name: history.get(projection.name, []) for projection in all_projections()}


@dataclass(frozen=True, slots=True)
class RebuildState:
    name: str
    phase: str
    done: int
    total: int
    started_at: str
    updated_at: str

    @property
    def percent(self) -> int:
        if self.phase == "done":
            return 100
        return 100 * self.done // self.total if self.total else 0

    @property
    def active(self) -> bool:
        return self.phase in REBUILD_ACTIVE_PHASES


def rebuilds() -> list[RebuildState]:
    """The rebuild of each projection that one is known for (running, or finished within the last hour)."""
    states = []
    for projection in all_projections():
        progress = rebuild_progress(projection.name)
        if progress:
            states.append(
                RebuildState(
                    projection.name,
                    progress.get("phase", "?"),
                    int(progress.get("events_done") or 0),
                    int(progress.get("events_total") or 0),
                    progress.get("started_at", ""),
                    progress.get("updated_at", ""),
                )
            )
    return states


@dataclass(frozen=True, slots=True)
class TamperState:
    last: Verification | None
    progress: dict[str, Any] | None
    seal: Seal | None

    @property
    def running(self) -> bool:
        return self.progress is not None and self.progress.get("phase") in ACTIVE_PHASES

    @property
    def percent(self) -> int:
        if not self.progress:
            return 0
        total = int(self.progress.get("events_total") or 0)
        done = int(self.progress.get("events_done") or 0)
        return 100 if self.progress.get("phase") == "done" else (100 * done // total if total else 0)


def tamper_state() -> TamperState:
    return TamperState(last_verification(), verification_progress(), last_seal())

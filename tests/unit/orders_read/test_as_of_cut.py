"""Where a stream is cut for time travel, and the fold over the part before the cut (no database)."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from eventstore.log.append import RecordedEvent
from orders_read import as_of
from orders_read.projections import catalogue

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def recorded(version: int, at: datetime, event_type: str = "StockReceived", **data: Any) -> RecordedEvent:
    return RecordedEvent(
        version,
        0,
        uuid.uuid4(),
        "Product-A",
        "Product",
        version,
        event_type,
        1,
        {"product_id": "A", "quantity": 1, **data},
        {},
        at,
    )


# v1 and v2 share a time (one command), v3 a second later, v4 two seconds later.
STREAM = [
    recorded(1, T0, "ProductRegistered", name="A", description="", price="1.00"),
    recorded(2, T0),
    recorded(3, T0 + SECOND),
    recorded(4, T0 + 2 * SECOND),
]


@pytest.mark.parametrize(("version", "seen"), [(1, 1), (3, 3), (4, 4)])
def test_a_version_is_the_state_right_after_that_event(version: int, seen: int) -> None:
    assert as_of.cut(STREAM, version=version) == seen


@pytest.mark.parametrize("version", [0, -1, 5, 10**18])
def test_no_version_below_1_or_beyond_the_stream(version: int) -> None:
    with pytest.raises(as_of.NoSuchPoint):
        as_of.cut(STREAM, version=version)
    with pytest.raises(as_of.NoSuchPoint):
        as_of.cut([], version=1)


@pytest.mark.parametrize(
    ("at", "seen"),
    [
        (T0, 2),  # both events of the command recorded at T0
        (T0 + SECOND / 2, 2),
        (T0 + SECOND, 3),
        (T0 + 2 * SECOND - timedelta(microseconds=1), 3),
        (T0 + 2 * SECOND, 4),
        (datetime(9999, 12, 31, tzinfo=UTC), 4),
    ],
)
def test_a_time_is_the_state_after_the_last_event_recorded_by_then(at: datetime, seen: int) -> None:
    assert as_of.cut(STREAM, at=at) == seen


def test_a_time_is_compared_across_zones() -> None:
    paris = timezone(timedelta(hours=1))
    assert as_of.cut(STREAM, at=datetime(2026, 11, 24, 13, 0, 1, tzinfo=paris)) == 3


def test_a_time_before_the_first_event_has_no_state() -> None:
    with pytest.raises(as_of.NoSuchPoint):
        as_of.cut(STREAM, at=T0 - timedelta(microseconds=1))
    with pytest.raises(as_of.NoSuchPoint):
        as_of.cut(STREAM, at=datetime(1, 1, 1, tzinfo=UTC))


def test_exactly_one_of_version_and_time() -> None:
    with pytest.raises(ValueError):
        as_of.cut(STREAM)
    with pytest.raises(ValueError):
        as_of.cut(STREAM, version=1, at=T0)


def test_the_fold_is_the_projections_and_skips_what_it_does_not_handle() -> None:
    foreign = RecordedEvent(9, 0, uuid.uuid4(), "Product-A", "Product", 3, "SomethingElse", 1, {}, {}, T0)
    state = as_of.fold([*STREAM[:2], foreign], as_of.PRODUCT_EVENTS, catalogue.fold_product)
    rows: dict[str, dict[str, Any]] = {}
    for event in STREAM[:2]:
        catalogue.evolve(rows, event)
    assert (
        state
        == rows["A"]
        == {"name": "A", "description": "", "price": Decimal("1.00"), "on_hand": 1, "reserved": 0, "version": 2}
    )
    assert as_of.fold([], as_of.PRODUCT_EVENTS, catalogue.fold_product) is None

"""The store's contract, on whichever database the suite runs (SQLite and PostgreSQL).

Transactional tests: on PostgreSQL `read_all` only returns events of transactions that
have ended, so the events must really be committed.
"""

import uuid
from decimal import Decimal

import pytest
from django.db import transaction

from eventstore.errors import ConcurrencyError, InvalidCheckpoint
from eventstore.log.append import (
    ANY,
    NO_STREAM,
    NewEvent,
    StreamWrite,
    append,
    command_transaction,
    count_after,
    head,
    read_all,
    read_stream,
)
from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.signals import events_committed
from orders_write.events import ProductRegistered, StockReceived
from tests.integration.eventstore.helpers import settle

pytestmark = pytest.mark.django_db(transaction=True)


def received(quantity: int, sku: str = "mug") -> StockReceived:
    return StockReceived(product_id=sku, quantity=quantity)


def stream() -> str:
    return f"Product-{uuid.uuid4().hex[:12]}"


def test_append_returns_the_new_versions_and_the_checkpoint_of_the_last_event() -> None:
    a, b = stream(), stream()
    result = append(StreamWrite(a, NO_STREAM, [received(1), received(2)]), StreamWrite(b, NO_STREAM, [received(3)]))
    assert result.versions == {a: 2, b: 1}
    settle()
    recorded = read_all()
    assert [(e.stream_id, e.version) for e in recorded] == [(a, 1), (a, 2), (b, 1)]
    assert result.checkpoint == recorded[-1].checkpoint
    assert len({e.txid for e in recorded}) == 1  # one transaction


def test_read_stream_returns_typed_events_in_version_order_after_a_version() -> None:
    sku = stream()
    registered = ProductRegistered(product_id=sku, name="Mug", description="", price=Decimal("9.99"))
    append(StreamWrite(sku, NO_STREAM, [registered, received(5)]))
    append(StreamWrite(sku, 2, [received(6)]))
    events = read_stream(sku)
    assert [e.version for e in events] == [1, 2, 3]
    assert events[0].to_domain() == registered
    assert events[0].stream_type == "Product"
    assert events[0].data["price"] == "9.99"  # money never floats
    assert [e.to_domain() for e in read_stream(sku, after_version=1)] == [received(5), received(6)]
    assert read_stream(stream()) == []


def test_a_stale_expected_version_raises_concurrency_error_naming_stream_expected_and_actual() -> None:
    sku = stream()
    append(StreamWrite(sku, NO_STREAM, [received(1), received(1)]))
    with pytest.raises(ConcurrencyError) as refused:
        append(StreamWrite(sku, 1, [received(9)]))
    assert (refused.value.stream_id, refused.value.expected, refused.value.actual) == (sku, 1, 2)
    assert sku in str(refused.value)
    assert [e.version for e in read_stream(sku)] == [1, 2]


def test_an_expected_version_ahead_of_the_stream_is_refused_too() -> None:
    """Without this check the writer would leave a gap (versions 1, 2, 6)."""
    sku = stream()
    append(StreamWrite(sku, NO_STREAM, [received(1), received(1)]))
    with pytest.raises(ConcurrencyError) as refused:
        append(StreamWrite(sku, 5, [received(9)]))
    assert (refused.value.expected, refused.value.actual) == (5, 2)
    assert [e.version for e in read_stream(sku)] == [1, 2]


def test_multi_stream_append_with_one_stale_version_appends_nothing_anywhere() -> None:
    order, fresh, stale = f"Order-{uuid.uuid4()}", stream(), stream()
    append(StreamWrite(stale, NO_STREAM, [received(10), received(1)]))
    settle()
    before = read_all()
    with pytest.raises(ConcurrencyError) as refused:
        append(
            StreamWrite(order, NO_STREAM, [NewEvent("OrderCreated", {"order_id": order})]),
            StreamWrite(fresh, NO_STREAM, [received(1)]),
            StreamWrite(stale, 1, [received(2)]),
        )
    assert (refused.value.stream_id, refused.value.expected, refused.value.actual) == (stale, 1, 2)
    assert read_stream(order) == [] and read_stream(fresh) == []
    assert read_all() == before


def test_no_stream_refuses_a_stream_that_exists() -> None:
    sku = stream()
    append(StreamWrite(sku, NO_STREAM, [received(1)]))
    with pytest.raises(ConcurrencyError) as refused:
        append(StreamWrite(sku, NO_STREAM, [received(1)]))
    assert (refused.value.expected, refused.value.actual) == (NO_STREAM, 1)


def test_any_appends_after_whatever_version_the_stream_is_at() -> None:
    sku = stream()
    assert append(StreamWrite(sku, ANY, [received(1)])).versions == {sku: 1}
    assert append(StreamWrite(sku, ANY, [received(1), received(2)])).versions == {sku: 3}
    assert [e.version for e in read_stream(sku)] == [1, 2, 3]


def test_appends_that_name_a_stream_twice_or_carry_no_events_are_refused() -> None:
    sku = stream()
    with pytest.raises(ValueError):
        append(StreamWrite(sku, NO_STREAM, [received(1)]), StreamWrite(sku, 1, [received(1)]))
    with pytest.raises(ValueError):
        append(StreamWrite(sku, NO_STREAM, []))
    assert read_stream(sku) == []


def test_metadata_of_the_append_and_of_each_event_are_recorded_together() -> None:
    sku = stream()
    event_id = uuid.uuid4()
    append(
        StreamWrite(
            sku,
            NO_STREAM,
            [
                NewEvent(
                    "StockReceived",
                    {"product_id": sku, "quantity": 1},
                    metadata={"causation_id": "c-1"},
                    event_id=event_id,
                )
            ],
        ),
        metadata={"correlation_id": "r-1", "user": "staff"},
    )
    [event] = read_stream(sku)
    assert event.metadata == {"correlation_id": "r-1", "user": "staff", "causation_id": "c-1"}
    assert event.event_id == event_id
    assert event.recorded_at.tzinfo is not None


def test_every_event_of_an_append_carries_its_metadata_whatever_its_kind() -> None:
    """Typed events and NewEvents in one append, across streams: each gets the append's metadata
    (merged with its own, which stays its own), and an id of its own."""
    first, second = stream(), stream()
    append(
        StreamWrite(
            first, NO_STREAM, [received(1, first), NewEvent("StockReceived", {"product_id": first, "quantity": 2})]
        ),
        StreamWrite(
            second,
            NO_STREAM,
            [
                NewEvent("StockReceived", {"product_id": second, "quantity": 3}, metadata={"causation_id": "c-2"}),
                received(4, second),
            ],
        ),
        metadata={"correlation_id": "r-2", "user": "staff"},
    )
    shared = {"correlation_id": "r-2", "user": "staff"}
    events = [*read_stream(first), *read_stream(second)]
    assert [e.metadata for e in events] == [shared, shared, {**shared, "causation_id": "c-2"}, shared]
    assert [e.data["quantity"] for e in events] == [1, 2, 3, 4]
    assert len({e.event_id for e in events}) == 4


def test_read_all_in_small_batches_returns_every_event_once_in_log_order() -> None:
    streams = [stream() for _ in range(3)]
    for round_ in range(4):
        append(*(StreamWrite(s, ANY, [received(round_ + 1)] * (i + 1)) for i, s in enumerate(streams)))
    settle()
    everything = read_all(limit=1000)
    assert len(everything) == 4 * (1 + 2 + 3)
    for size in (1, 2, 5):
        seen, after = [], ORIGIN
        while batch := read_all(after=after, limit=size):
            assert len(batch) <= size
            seen.extend(batch)
            after = Checkpoint.parse(batch[-1].checkpoint.token())  # the token is all a reader keeps
        assert [e.position for e in seen] == [e.position for e in everything]
    keys = [(e.txid, e.position) for e in everything]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for s in streams:
        assert [e.version for e in everything if e.stream_id == s] == list(range(1, 4 * (streams.index(s) + 1) + 1))


def test_read_all_can_be_limited_to_event_types() -> None:
    sku = stream()
    registered = ProductRegistered(product_id=sku, name="Mug", description="", price=Decimal("1"))
    append(StreamWrite(sku, NO_STREAM, [registered, received(1), received(2)]))
    settle()
    assert [e.event_type for e in read_all(event_types=["ProductRegistered"])] == ["ProductRegistered"]
    assert [e.version for e in read_all(event_types=["StockReceived"])] == [2, 3]


def test_head_and_count_after_describe_what_a_reader_has_left() -> None:
    assert head() == ORIGIN
    sku = stream()
    append(StreamWrite(sku, NO_STREAM, [received(1), received(2)]))
    result = append(StreamWrite(sku, 2, [received(3)]))
    settle()
    assert head() == result.checkpoint
    first = read_all(limit=1)[0]
    assert count_after(ORIGIN) == 3
    assert count_after(first.checkpoint) == 2
    assert count_after(head()) == 0


def test_a_checkpoint_token_is_compact_and_malformed_tokens_are_refused() -> None:
    result = append(StreamWrite(stream(), NO_STREAM, [received(1)]))
    token = result.checkpoint.token()
    assert Checkpoint.parse(token) == result.checkpoint
    for bad in ("", "12", "a-b", "1-2-3", "-1-2"):
        with pytest.raises(InvalidCheckpoint):
            Checkpoint.parse(bad)


def test_appends_inside_a_command_transaction_commit_or_roll_back_together() -> None:
    a, b = stream(), stream()
    with command_transaction():
        append(StreamWrite(a, NO_STREAM, [received(1)]))
        append(StreamWrite(b, NO_STREAM, [received(1)]))
    assert len(read_stream(a)) == len(read_stream(b)) == 1
    c = stream()
    with pytest.raises(RuntimeError), command_transaction():
        append(StreamWrite(c, NO_STREAM, [received(1)]))
        raise RuntimeError("the handler failed after appending")
    assert read_stream(c) == []


def test_a_stale_append_inside_a_command_transaction_rolls_back_its_earlier_appends() -> None:
    a, b = stream(), stream()
    append(StreamWrite(b, NO_STREAM, [received(1)]))
    with pytest.raises(ConcurrencyError), command_transaction():
        append(StreamWrite(a, NO_STREAM, [received(1)]))
        append(StreamWrite(b, NO_STREAM, [received(1)]))
    assert read_stream(a) == []


def test_events_committed_is_sent_after_commit_and_not_for_a_rolled_back_append() -> None:
    heard: list[bool] = []

    def listener(**_: object) -> None:
        heard.append(transaction.get_connection().in_atomic_block)

    events_committed.connect(listener, dispatch_uid="test-listener")
    try:
        sku = stream()
        append(StreamWrite(sku, NO_STREAM, [received(1)]))
        assert heard == [False]  # sent once, after the commit
        with pytest.raises(ConcurrencyError):
            append(StreamWrite(sku, NO_STREAM, [received(1)]))
        with pytest.raises(RuntimeError), command_transaction():
            append(StreamWrite(sku, 1, [received(1)]))
            raise RuntimeError
        assert heard == [False]
    finally:
        events_committed.disconnect(dispatch_uid="test-listener")

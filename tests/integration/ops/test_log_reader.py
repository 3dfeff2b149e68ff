"""The rebuild's log reader: lean batches say what `read_all` says, minus metadata and ids."""

import uuid

import pytest

from eventstore.log.append import NO_STREAM, NewEvent, StreamWrite, append, read_all
from eventstore.log.positions import ORIGIN
from eventstore.rebuild.log_reader import LeanEvent, log_batches
from tests.integration.ops.counting import wait_until_readable

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.postgres]

FIELDS = (
    "position",
    "txid",
    "stream_id",
    "stream_type",
    "version",
    "event_type",
    "schema_version",
    "data",
    "recorded_at",
    "checkpoint",
)
TYPES = ["OrderCreated", "OrderCancelled"]


def _orders(count: int) -> None:
    for i in range(count):
        order_id = str(uuid.uuid4())
        append(
            StreamWrite(
                f"Order-{order_id}",
                NO_STREAM,
                [
                    NewEvent(
                        "OrderCreated",
                        {"order_id": order_id, "customer_id": f"c{i}", "shipping_address": {}},
                        metadata={"user": "u"},
                    ),
                    NewEvent(
                        "OrderItemAdded",
                        {
                            "order_id": order_id,
                            "product_id": "p",
                            "name": "tab\there",
                            "quantity": 1,
                            "unit_price": "1.00",
                        },
                    ),
                    NewEvent(
                        "OrderCancelled", {"order_id": order_id, "reason": "é \\N"}, schema_version=1
                    ),  # upcast to v2
                ],
            )
        )
    wait_until_readable()


def test_lean_batches_carry_the_same_events_in_the_same_order_as_read_all() -> None:
    _orders(9)
    full = read_all(ORIGIN, 1000, event_types=TYPES)
    batches = list(log_batches(ORIGIN, 4, TYPES, prefetch=True, lean=True))

    lean = [event for batch in batches for event in batch]
    assert [len(b) for b in batches] == [4, 4, 4, 4, 2]
    assert [tuple(getattr(e, f) for f in FIELDS) for e in lean] == [tuple(getattr(e, f) for f in FIELDS) for e in full]
    assert {e.data["cancelled_by"] for e in lean if e.event_type == "OrderCancelled"} == {"customer"}
    assert all(isinstance(e, LeanEvent) and not hasattr(e, "metadata") and not hasattr(e, "event_id") for e in lean)
    assert [e.to_domain() for e in lean] == [e.to_domain() for e in full]
    assert all(e.recorded_at.utcoffset().total_seconds() == 0 for e in lean)


def test_batches_start_after_the_given_checkpoint_and_full_ones_keep_metadata() -> None:
    _orders(3)
    everything = read_all(ORIGIN, 1000, event_types=TYPES)
    rest = [e for batch in log_batches(everything[1].checkpoint, 2, TYPES, prefetch=True) for e in batch]
    assert rest == everything[2:]
    assert rest[0].metadata.get("user") == "u" or rest[0].event_type == "OrderCancelled"

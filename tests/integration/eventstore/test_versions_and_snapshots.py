"""Old payloads come back in the current shape; snapshots speed loading up and change nothing else."""

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import pytest
from django.test import override_settings

from eventstore.aggregates.loading import load
from eventstore.aggregates.snapshots import save_snapshot, snapshot_due
from eventstore.domain import DomainEvent
from eventstore.log.append import ANY, NO_STREAM, NewEvent, StreamWrite, append, read_all, read_stream
from eventstore.models import Event, Snapshot
from orders_write.events import OrderCancelled, StockReceived
from tests.integration.eventstore.helpers import settle

pytestmark = pytest.mark.django_db


@pytest.mark.django_db(transaction=True)  # read_all only sees committed transactions
def test_a_stored_v1_order_cancelled_is_read_back_as_v2_with_cancelled_by() -> None:
    stream = "Order-0b5a5f2e-v1"
    v1_payload = {"order_id": "0b5a5f2e-v1", "reason": "changed my mind"}
    append(StreamWrite(stream, NO_STREAM, [NewEvent("OrderCancelled", v1_payload, schema_version=1)]))

    stored = Event.objects.get(stream_id=stream)
    assert (stored.schema_version, stored.data) == (1, v1_payload)  # the log keeps what was written

    [event] = read_stream(stream)
    assert event.schema_version == OrderCancelled.schema_version == 2
    assert event.data == {**v1_payload, "cancelled_by": "customer"}
    assert event.to_domain() == OrderCancelled(
        order_id="0b5a5f2e-v1", reason="changed my mind", cancelled_by="customer"
    )
    settle()
    assert [e.data for e in read_all() if e.stream_id == stream] == [event.data]


def test_a_current_version_payload_is_not_touched_by_upcasters() -> None:
    stream = "Order-staff-cancel"
    cancelled = OrderCancelled(order_id="staff-cancel", reason="fraud", cancelled_by="staff")
    append(StreamWrite(stream, NO_STREAM, [cancelled]))
    [event] = read_stream(stream)
    assert event.schema_version == 2
    assert event.to_domain() == cancelled


@dataclass
class Tally:
    """A tiny aggregate for the snapshot tests: the stock received into one stream."""

    stream_type: ClassVar[str] = "Tally"
    snapshot_schema: ClassVar[int] = 1
    id: str
    version: int = 0
    total: int = 0
    applied: int = field(default=0, compare=False)
    """How many events this instance folded: what a snapshot saves."""

    @classmethod
    def blank(cls, aggregate_id: str) -> Self:
        return cls(id=aggregate_id)

    @classmethod
    def from_snapshot(cls, aggregate_id: str, state: dict[str, Any], version: int) -> Self:
        return cls(id=aggregate_id, version=version, total=state["total"])

    def snapshot_state(self) -> dict[str, Any]:
        return {"total": self.total}

    def apply(self, event: DomainEvent) -> None:
        assert isinstance(event, StockReceived)
        self.total += event.quantity
        self.applied += 1


@dataclass
class TallyV2(Tally):
    """The same aggregate after a change of its state shape: old snapshots must be ignored."""

    snapshot_schema: ClassVar[int] = 2


def receive(tally_id: str, *quantities: int) -> None:
    append(StreamWrite(f"Tally-{tally_id}", ANY, [StockReceived(product_id=tally_id, quantity=q) for q in quantities]))


def test_load_without_a_snapshot_folds_the_whole_stream() -> None:
    receive("t1", 1, 2, 3)
    tally = load(Tally, "t1")
    assert (tally.version, tally.total, tally.applied) == (3, 6, 3)
    assert load(Tally, "nobody") == Tally(id="nobody", version=0, total=0)


def test_load_starts_from_the_snapshot_and_reads_only_the_events_after_it() -> None:
    receive("t2", *range(1, 11))  # total 55 at version 10
    save_snapshot(load(Tally, "t2"))
    receive("t2", 100, 200)
    tally = load(Tally, "t2")
    assert (tally.version, tally.total) == (12, 355)
    assert tally.applied == 2  # the snapshot was used: 10 events not read again


def test_the_snapshot_state_is_what_load_starts_from() -> None:
    """A doctored snapshot shows through, which proves load really trusts the snapshot."""
    receive("t3", 1, 1)
    save_snapshot(Tally(id="t3", version=2, total=1000))
    receive("t3", 5)
    assert load(Tally, "t3").total == 1005


def test_a_snapshot_of_another_schema_is_ignored() -> None:
    receive("t4", 1, 2, 3)
    save_snapshot(Tally(id="t4", version=3, total=999))  # schema 1, doctored
    tally = load(TallyV2, "t4")
    assert (tally.version, tally.total, tally.applied) == (3, 6, 3)
    save_snapshot(tally)  # replaces the old schema's snapshot even at the same version
    assert Snapshot.objects.get(stream_id="Tally-t4").schema == 2
    assert load(TallyV2, "t4").applied == 0


def test_an_older_snapshot_never_replaces_a_newer_one() -> None:
    receive("t5", 1, 2, 3, 4)
    newer = load(Tally, "t5")
    save_snapshot(newer)
    save_snapshot(Tally(id="t5", version=2, total=3))
    snapshot = Snapshot.objects.get(stream_id="Tally-t5")
    assert (snapshot.version, snapshot.state) == (4, {"total": 10})


def test_deleting_snapshots_changes_nothing_but_speed() -> None:
    receive("t6", *range(1, 21))
    save_snapshot(load(Tally, "t6"))
    receive("t6", 7)
    with_snapshot = load(Tally, "t6")
    Snapshot.objects.all().delete()
    without = load(Tally, "t6")
    assert without == with_snapshot
    assert (with_snapshot.applied, without.applied) == (1, 21)


@override_settings(EVENTSTORE_SNAPSHOT_EVERY=10)
def test_a_snapshot_is_due_when_an_append_crosses_a_multiple_of_the_setting() -> None:
    assert snapshot_due(9, 10) and snapshot_due(8, 12) and snapshot_due(19, 25)
    assert not snapshot_due(10, 19) and not snapshot_due(0, 9)
    with override_settings(EVENTSTORE_SNAPSHOT_EVERY=0):
        assert not snapshot_due(0, 1000)

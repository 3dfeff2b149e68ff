"""The runner's guarantees on the read side's real projections: all-or-nothing batches,
poison events that stop one projection only, and no event applied twice."""

import random
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections

from eventstore.log.append import ANY, RecordedEvent, StreamWrite, append, head, read_all
from eventstore.log.positions import ORIGIN
from eventstore.models import ProjectionState
from eventstore.projections import runner
from eventstore.projections.base import Target, get_projection
from eventstore.routers import read_db_alias
from orders_read.bus import Viewer, ask
from orders_read.models import DailySales, OrderSummary, ProductView
from orders_read.projections import catalogue
from orders_read.queries import GetProjectionStatus
from orders_write.events import OrderItemAdded
from tests.integration.orders_read.support import NAMES, LogWriter, catch_up_all, wait_readable

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("manual_projections"),
]


def state(name: str) -> ProjectionState:
    return ProjectionState.objects.using(read_db_alias()).get(name=name)


def small_shop() -> LogWriter:
    log = LogWriter()
    log.product("A", price="2.00", stock=100)
    log.product("B", price="5.00", stock=100)
    first, _ = log.order("alice", [("A", 1), ("B", 2)])
    log.order("bob", [("A", 4)])
    log.cancel(first)
    return log


def test_crash_mid_batch_leaves_views_and_checkpoint_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    small_shop()
    projection = get_projection("daily_sales")
    real_apply = projection.apply
    batches: list[list[int]] = []

    def crash_after_writing(batch: Sequence[RecordedEvent], target: Target) -> None:
        real_apply(batch, target)  # the rows are written...
        batches.append([e.position for e in batch])
        if len(batches) == 1:
            raise RuntimeError("worker died mid-batch")  # ...then the batch fails

    monkeypatch.setattr(projection, "apply", crash_after_writing)
    runner.ensure_state(projection)
    wait_readable()
    with pytest.raises(RuntimeError):
        runner.advance(projection, 100)
    assert not DailySales.objects.exists()
    assert state("daily_sales").checkpoint == ORIGIN

    assert runner.catch_up("daily_sales") == len(read_all(ORIGIN, 1000))
    assert batches[0] == batches[1]  # the same batch, applied again from the same checkpoint
    (day,) = DailySales.objects.all()
    assert (day.orders, day.units, day.revenue, day.cancelled) == (2, 7, Decimal("20.00"), 1)  # once, not twice
    assert state("daily_sales").events_applied == 6


def test_a_batch_read_before_another_runner_moved_the_checkpoint_is_read_again_under_the_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch is read before the checkpoint row is locked; a runner that advanced meanwhile must not be repeated."""
    small_shop()
    projection = get_projection("daily_sales")
    runner.ensure_state(projection)
    wait_readable()
    events = len(read_all(ORIGIN, 1000))
    real_read_all = runner.read_all

    def read_then_let_another_runner_take_two(after: Any, limit: int) -> list[RecordedEvent]:
        batch = real_read_all(after, limit)
        monkeypatch.setattr(runner, "read_all", real_read_all)
        assert runner.advance(projection, 2) == 2  # the other runner, between our read and our lock
        return batch

    monkeypatch.setattr(runner, "read_all", read_then_let_another_runner_take_two)
    assert runner.advance(projection, 1000) == events - 2  # read again from where the other one stopped
    (day,) = DailySales.objects.all()
    assert (day.orders, day.units, day.revenue, day.cancelled) == (2, 7, Decimal("20.00"), 1)  # once, not twice
    assert state("daily_sales").events_applied == 6
    assert state("daily_sales").checkpoint == read_all(ORIGIN, 1000)[-1].checkpoint


def test_poison_event_fails_one_projection_others_go_on_and_status_shows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    log = small_shop()
    poison = log.receive("B", 7)
    log.receive("A", 1)
    real_evolve = catalogue.evolve

    def buggy_evolve(products: dict[str, Any], event: RecordedEvent) -> None:
        if event.event_type == "StockReceived" and event.data["quantity"] == 7:
            raise ArithmeticError("a bug in the projection")
        real_evolve(products, event)

    monkeypatch.setattr(catalogue, "evolve", buggy_evolve)
    catch_up_all()
    failed = state("catalogue")
    assert failed.status == "failed"
    assert failed.failed_position == poison.checkpoint.position
    assert "ArithmeticError: a bug in the projection" in failed.last_error
    assert failed.failed_at is not None
    assert failed.checkpoint < poison.checkpoint  # applied up to the poison event, not past it
    assert ProductView.objects.get(pk="B").on_hand == 100  # events before it were applied
    assert state("order_summary").status == "active" and OrderSummary.objects.count() == 2
    assert state("daily_sales").status == "active"

    rows = {row.name: row for row in ask(GetProjectionStatus(), viewer=Viewer("staff", True)).result.items}
    assert rows["catalogue"].status == "failed" and rows["catalogue"].lag_events == 2
    assert "a bug in the projection" in rows["catalogue"].last_error
    assert rows["order_summary"].lag_events == 0

    catch_up_all()
    assert state("catalogue").status == "failed"  # stays stopped until an operator acts

    monkeypatch.setattr(catalogue, "evolve", real_evolve)  # the fix is deployed
    runner.resume("catalogue")
    catch_up_all()
    assert state("catalogue").status == "active" and state("catalogue").last_error == ""
    assert (ProductView.objects.get(pk="B").on_hand, ProductView.objects.get(pk="A").on_hand) == (107, 101)


def test_skipping_a_poison_event_is_explicit_and_recorded() -> None:
    log = small_shop()
    stray = append(
        StreamWrite(
            "Order-00000000-0000-4000-8000-000000000001",
            ANY,
            [
                OrderItemAdded(
                    order_id="00000000-0000-4000-8000-000000000001",
                    product_id="A",
                    name="x",
                    quantity=1,
                    unit_price=Decimal("1.00"),
                )
            ],
        )
    )  # a line for an order that was never created
    later, _ = log.order("carol", [("B", 1)])
    catch_up_all()
    assert state("order_summary").status == "failed"
    assert state("order_summary").failed_position == stray.checkpoint.position
    assert not OrderSummary.objects.filter(pk=later).exists()
    skipped = runner.skip_failed_event("order_summary")
    assert skipped.skipped_positions == [stray.checkpoint.position]
    catch_up_all()
    assert state("order_summary").status == "active"
    assert OrderSummary.objects.filter(pk=later).exists()
    assert not OrderSummary.objects.filter(pk="00000000-0000-4000-8000-000000000001").exists()


@pytest.mark.postgres
def test_two_runners_at_once_never_apply_an_event_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    log = LogWriter()
    for sku in "ABCD":
        log.product(sku, price="1.00", stock=10_000)
    rng = random.Random(7)
    orders = [log.order(f"c{i % 5}", [(rng.choice("ABCD"), rng.randint(1, 3))])[0] for i in range(60)]
    for order_id in orders[:15]:
        log.cancel(order_id)
    applied: list[tuple[str, int]] = []
    lock = threading.Lock()
    for name in NAMES:
        projection = get_projection(name)
        real = projection.apply

        def recording(batch: Sequence[RecordedEvent], target: Target, real: Any = real, name: str = name) -> None:
            real(batch, target)
            with lock:
                applied.extend((name, e.position) for e in batch)

        monkeypatch.setattr(projection, "apply", recording)
        runner.ensure_state(projection)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for name in NAMES:
                runner.catch_up(name, batch_size=5)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    wait_readable()
    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    log_events = read_all(ORIGIN, 10_000)
    expected = [(n, e.position) for n in NAMES for e in log_events if e.event_type in get_projection(n).handled_types()]
    assert len(applied) == len(set(applied))  # no (projection, event) pair twice
    assert set(applied) == set(expected)  # and none missing
    (day,) = DailySales.objects.all()
    assert (day.orders, day.cancelled) == (60, 15)
    assert sum(state(n).events_applied for n in NAMES) == len(expected)


@pytest.mark.postgres
def test_a_runner_held_back_by_another_projections_batch_looks_again_when_that_batch_commits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The batch that hides the next event is another projection's: its commit, not a back-off, ends the wait."""
    log = small_shop()
    catch_up_all()
    for name in NAMES:
        assert state(name).status == "active"
    monkeypatch.setattr(runner, "IN_FLIGHT_WAIT_SECONDS", 60.0)
    monkeypatch.setattr(runner, "_IN_FLIGHT_FIRST_SLEEP", 30.0)  # a back-off this long would fail the test
    monkeypatch.setattr(runner, "_IN_FLIGHT_MAX_SLEEP", 30.0)
    daily_sales = get_projection("daily_sales")
    real_apply = daily_sales.apply
    applying, release = threading.Event(), threading.Event()

    def held_open(batch: Sequence[RecordedEvent], target: Target) -> None:
        real_apply(batch, target)
        applying.set()
        release.wait(30)  # the batch's transaction stays open, its transaction id with it

    monkeypatch.setattr(daily_sales, "apply", held_open)
    log.order("dave", [("A", 1)])
    wait_readable()
    blocker = threading.Thread(target=lambda: (runner.catch_up("daily_sales"), connections.close_all()))
    blocker.start()
    assert applying.wait(30)
    hidden, _ = log.order("erin", [("B", 1)])  # committed after the open batch took its transaction id
    result: list[runner.CatchUp] = []
    waiter = threading.Thread(
        target=lambda: (result.append(runner.catch_up_to_head("order_summary")), connections.close_all())
    )
    waiter.start()
    time.sleep(0.5)
    assert not OrderSummary.objects.filter(pk=hidden).exists()  # hidden while the other batch is open
    released_at = time.monotonic()
    release.set()
    waiter.join(20)
    blocker.join(20)
    assert time.monotonic() - released_at < 10  # woken by the commit, long before its 30 s back-off
    assert result and result[0].at_head
    assert OrderSummary.objects.filter(pk=hidden).exists()
    assert state("order_summary").checkpoint == head()


def test_a_runner_that_reads_on_between_hidden_events_is_not_cut_short_by_their_total_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The wait for hidden events is bounded per wait, not per run: a catch-up that keeps reading
    under steady appends (each other batch hiding the next event for a moment) goes on to the head."""
    small_shop()
    catch_up_all()
    monkeypatch.setattr(runner, "IN_FLIGHT_WAIT_SECONDS", 0.2)
    script = [0, 1] * 5  # hidden, then readable, five times over: 0.5 s of waits in all
    batches: list[int] = []

    def advance(*args: Any) -> int:
        done = script.pop(0) if script else 0
        if not done:
            time.sleep(0.1)
        batches.append(done)
        return done

    monkeypatch.setattr(runner, "advance", advance)
    monkeypatch.setattr(runner, "committed_but_unreadable", lambda name: bool(script))

    result = runner.catch_up_to_head("order_summary")

    assert result == runner.CatchUp(5, at_head=True)

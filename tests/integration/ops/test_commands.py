"""The operator's commands: rebuild_projections, projection_status, resume_projection, run_projector."""

import gc
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from psycopg import sql

from eventstore.log.append import NO_STREAM, StreamWrite, append, head, read_all
from eventstore.management.commands.run_projector import Command as RunProjector
from eventstore.models import ProjectionState
from eventstore.projections import runner, wakeups
from eventstore.projections.runner import catch_up
from eventstore.routers import read_db_alias
from orders_read.models import ProductView
from orders_write.events import ProductRegistered, StockReceived
from tests.integration.ops.counting import NAME, POISON, add_products, expected_rows, view_rows
from tests.support.processes import database_url

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _states() -> "ProjectionState.objects":
    return ProjectionState.objects.using(read_db_alias())


def _fail_projection() -> int:
    """Append a poison event after good ones and let the runner stop on it; returns its position."""
    add_products(2)
    append(
        StreamWrite(
            "Product-bad",
            NO_STREAM,
            [
                ProductRegistered(product_id="bad", name=POISON, description="", price=Decimal("1.00")),
            ],
        )
    )
    add_products(1, prefix="after")
    catch_up(NAME)
    state = _states().get(name=NAME)
    assert state.status == "failed"
    return state.failed_position


def test_rebuild_projections_prints_progress_lines_and_a_summary(counting_projection) -> None:
    add_products(10)
    catch_up(NAME)
    out = _run("rebuild_projections", NAME, "--batch-size", "4")
    assert f"{NAME}: 20/20 events" in out  # plain lines when stdout is not a terminal
    assert f"{NAME}: 20 events in " in out and "events/s)" in out
    assert view_rows() == expected_rows(10)


def test_rebuild_projections_draws_a_tqdm_bar_on_a_terminal(counting_projection, capsys) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    add_products(5)
    catch_up(NAME)
    out = Terminal()
    call_command("rebuild_projections", NAME, "--batch-size", "3", stdout=out)
    bar = capsys.readouterr().err
    assert NAME in bar and "100%" in bar and "10.0/10.0" in bar and "ev/s" in bar
    assert "events/s, " not in out.getvalue()  # no plain progress lines on a terminal
    assert f"{NAME}: 10 events in " in out.getvalue()


def test_rebuild_projections_in_place(counting_projection) -> None:
    add_products(4)
    catch_up(NAME)
    out = _run("rebuild_projections", NAME, "--in-place")
    assert "in place" in out and f"{NAME}: 8 events" in out
    assert view_rows() == expected_rows(4)


def test_rebuild_projections_without_names_rebuilds_only_what_needs_it(counting_projection) -> None:
    add_products(3)
    catch_up(NAME)
    assert "Nothing to rebuild" in _run("rebuild_projections")
    _states().filter(name=NAME).update(version=0)
    out = _run("rebuild_projections")
    assert f"Rebuilding {NAME}" in out
    assert _states().get(name=NAME).version == 1


def test_rebuild_projections_refuses_an_unknown_name(counting_projection) -> None:
    with pytest.raises(CommandError, match="no projection named 'nope'"):
        _run("rebuild_projections", "nope")


def test_projection_status_table_and_json(counting_projection) -> None:
    add_products(3)
    catch_up(NAME)
    add_products(2, prefix="lag")  # not caught up (on SQLite eager tasks already did)
    out = _run("projection_status")
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["name", "status", "version"]
    row = next(r for r in rows if r.startswith(NAME))
    assert "active" in row and "1/1" in row
    data = {p["name"]: p for p in json.loads(_run("projection_status", "--json"))}
    entry = data[NAME]
    assert entry["status"] == "active" and entry["code_version"] == entry["stored_version"] == 1
    state = _states().get(name=NAME)
    assert entry["checkpoint"] == state.checkpoint.token()
    assert entry["lag_events"] == len(read_all(state.checkpoint, 100))
    assert (entry["lag_events"] > 0) == (entry["lag_seconds"] > 0)


def test_projection_status_exits_with_1_when_one_has_failed(counting_projection) -> None:
    position = _fail_projection()
    with pytest.raises(CommandError) as failed:
        _run("projection_status")
    assert failed.value.returncode == 1 and NAME in str(failed.value)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("projection_status", "--json", stdout=out)
    entry = next(p for p in json.loads(out.getvalue()) if p["name"] == NAME)
    assert entry["status"] == "failed" and entry["failed_position"] == position
    assert "poison product" in entry["last_error"]


def test_resume_retries_the_failed_event_and_it_fails_again(counting_projection) -> None:
    position = _fail_projection()
    with pytest.raises(CommandError, match=f"failed again at position {position}"):
        _run("resume_projection", NAME)
    assert _states().get(name=NAME).skipped_positions == []


def test_resume_with_skip_records_the_skip_and_applies_the_rest(counting_projection) -> None:
    position = _fail_projection()
    out = _run("resume_projection", NAME, "--skip-failed-event")
    assert f"skipped event at position {position} (recorded)" in out
    state = _states().get(name=NAME)
    assert (state.status, state.skipped_positions, state.checkpoint) == ("active", [position], head())
    assert view_rows() == expected_rows(1, prefix="after") + expected_rows(2)


def test_resume_with_skip_refuses_when_nothing_failed(counting_projection) -> None:
    add_products(1)
    catch_up(NAME)
    with pytest.raises(CommandError, match="nothing to skip"):
        _run("resume_projection", NAME, "--skip-failed-event")


def test_run_projector_once_catches_every_projection_up(counting_projection) -> None:
    add_products(5)
    _run("run_projector", "--once")
    assert view_rows() == expected_rows(5)
    assert _states().get(name=NAME).checkpoint == head()


@contextmanager
def running_projector() -> Iterator[RunProjector]:
    """`run_projector` with a 10-minute poll in a thread, after its first pass; stopped and joined on exit.

    With the poll that far away, only a NOTIFY (or the look again after one) can move the views in time.
    """
    command = RunProjector()
    thread = threading.Thread(
        target=call_command, args=(command,), kwargs={"poll_seconds": 600, "stdout": io.StringIO()}
    )
    thread.start()
    try:
        while command.passes < 1:
            time.sleep(0.02)
        yield command
    finally:
        command.stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_run_projector_freezes_its_start_up_heap_out_of_garbage_collection(counting_projection) -> None:
    """A full collection walking Django's heap pauses every projection thread at once: the heap is frozen first."""
    gc.unfreeze()
    try:
        with running_projector():
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.postgres
def test_run_projector_is_woken_by_notify_long_before_its_poll(counting_projection) -> None:
    """A poll of 10 minutes: only the NOTIFY of the append can bring the view up to date in time."""
    with running_projector():
        add_products(3)
        deadline = time.monotonic() + 30
        while view_rows() != expected_rows(3) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert view_rows() == expected_rows(3)  # the poll is 10 minutes away: a NOTIFY woke it


@pytest.mark.postgres
def test_run_projector_looks_again_for_appends_whose_notify_was_folded_into_an_earlier_one(
    counting_projection, settings
) -> None:
    """The second append falls in the first one's NOTIFY window and sends none; only the
    projector's second look, one window after its wake-up, can apply it before the 10-minute poll."""
    settings.EVENTSTORE_NOTIFY_COALESCE_MS = 1500
    wakeups.reset_notify_window()  # no window left open by an earlier test
    with running_projector():
        add_products(1, prefix="a")  # notified: wakes the projector
        deadline = time.monotonic() + 30
        while view_rows() != expected_rows(1, prefix="a") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert view_rows() == expected_rows(1, prefix="a")
        add_products(1, prefix="b")  # inside the window: no NOTIFY of its own
        while len(view_rows()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert view_rows() == expected_rows(1, prefix="a") + expected_rows(1, prefix="b")


@pytest.mark.postgres
def test_run_projector_advances_each_projection_while_another_is_held_up_in_its_batch(counting_projection) -> None:
    """A thread per projection: catalogue waits on its locked table, and the view after it in name order moves on.

    Both products come in one append, so catalogue's batch (and the transaction id it
    holds while it waits, which would hide later events from every reader) comes after both.
    """
    with running_projector(), table_locked(ProductView._meta.db_table):
        append(*[product_write(f"p{i:05d}", f"Product {i}") for i in range(2)])
        deadline = time.monotonic() + 30
        while view_rows() != expected_rows(2) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert view_rows() == expected_rows(2)
        assert _states().get(name="catalogue").checkpoint < head()  # still held up: ours did not wait for it
    assert NAME > "catalogue"  # in one pass in name order, ours would have waited for catalogue's batch


@pytest.mark.postgres
def test_run_projector_looks_again_on_its_own_when_an_open_transaction_outlasted_its_wait(
    counting_projection, monkeypatch
) -> None:
    """Events committed behind an open transaction: the catch-up woken by their NOTIFY gives up waiting;
    with no NOTIFY to come and the poll 10 minutes away, the thread must look again by itself."""
    monkeypatch.setattr(runner, "IN_FLIGHT_WAIT_SECONDS", 0.05)
    with running_projector():
        with psycopg.connect(database_url("default")) as holder:
            holder.execute("SELECT pg_current_xact_id()")  # an open transaction id: later events are hidden
            append(product_write("p00000", "Product 0"))
            time.sleep(0.5)  # the woken catch-up gives up meanwhile (it waits 0.05 s)
            assert view_rows() == []
            holder.rollback()
        deadline = time.monotonic() + 30
        while view_rows() != expected_rows(1) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert view_rows() == expected_rows(1)


@pytest.mark.postgres
def test_run_projector_wakes_a_catch_up_waiting_for_hidden_events_at_the_next_notify(
    counting_projection, monkeypatch, settings
) -> None:
    """Events hidden by another process's open transaction, most often an append: the NOTIFY that
    follows its commit, not the waiting catch-up's back-off, ends the wait."""
    monkeypatch.setattr(runner, "IN_FLIGHT_WAIT_SECONDS", 60.0)
    monkeypatch.setattr(runner, "_IN_FLIGHT_FIRST_SLEEP", 30.0)  # a back-off this long would fail the test
    monkeypatch.setattr(runner, "_IN_FLIGHT_MAX_SLEEP", 30.0)
    with running_projector():
        with psycopg.connect(database_url("default")) as holder:
            holder.execute("SELECT pg_current_xact_id()")  # an open transaction id: later events are hidden
            append(product_write("p00000", "Product 0"))  # its NOTIFY starts a catch-up that finds it hidden
            time.sleep(0.5)
            assert view_rows() == []
            holder.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(settings.EVENTSTORE_NOTIFY_CHANNEL)))
            holder.commit()
        committed_at = time.monotonic()
        while view_rows() != expected_rows(1) and time.monotonic() < committed_at + 10:
            time.sleep(0.05)
        assert view_rows() == expected_rows(1)  # long before the 30 s back-off


def product_write(sku: str, name: str) -> StreamWrite:
    """What `add_products` appends for one product, as one stream write."""
    return StreamWrite(
        f"Product-{sku}",
        NO_STREAM,
        [
            ProductRegistered(product_id=sku, name=name, description="", price=Decimal("1.00")),
            StockReceived(product_id=sku, quantity=1),
        ],
    )


@contextmanager
def table_locked(table: str) -> Iterator[None]:
    """SHARE lock on one table from a connection of its own: writes to it wait, and no transaction id is taken."""
    with psycopg.connect(database_url(read_db_alias())) as conn:
        conn.execute(sql.SQL("LOCK TABLE {} IN SHARE MODE").format(sql.Identifier(table)))
        yield
        conn.rollback()


@pytest.mark.postgres
def test_run_projector_listens_again_after_its_connection_is_killed(counting_projection) -> None:
    with running_projector() as command:
        killed = command.listener_pid
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [killed])
        deadline = time.monotonic() + 30
        while command.listener_pid in (None, killed) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert command.listener_pid not in (None, killed)
        add_products(2)
        while view_rows() != expected_rows(2) and time.monotonic() < deadline + 30:
            time.sleep(0.05)
        assert view_rows() == expected_rows(2)

"""The runner under database faults: a statement timeout or a terminated connection in the middle
of a batch is retried with backoff and never fails the projection; only the projection's own
error on an event does, as before. Every event is applied exactly once either way.

The faults are real: the statement timeout is PostgreSQL's, and the connections are ended
with pg_terminate_backend from another session, both inside the runner's transaction.
"""

from collections.abc import Callable, Sequence
from decimal import Decimal

import psycopg
import pytest
from django.db import connections

from eventstore.log.append import NO_STREAM, RecordedEvent, StreamWrite, append, head
from eventstore.log.positions import ORIGIN
from eventstore.models import ProjectionState
from eventstore.projections import retries, runner
from eventstore.projections.base import Projection, Target
from eventstore.routers import read_db_alias
from orders_write.events import ProductRegistered
from tests.integration.ops.counting import (
    NAME,
    POISON,
    add_products,
    counting_projection,
    expected_rows,
    view_rows,
)
from tests.support.processes import database_url

__all__ = ["counting_projection"]  # the fixture, imported for pytest

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

Fault = Callable[[Target], None]


def state() -> ProjectionState:
    return ProjectionState.objects.using(read_db_alias()).get(name=NAME)


def statement_timeout(target: Target) -> None:
    """PostgreSQL cancels the batch's statement: SQLSTATE 57014, inside the runner's transaction."""
    with connections[target.using].cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = '1ms'")
        cursor.execute("SELECT pg_sleep(1)")


def terminate_connections(target: Target) -> None:
    """Another session terminates the backends of both the runner's connections (read and log).

    The projection's own statements that follow run on the dead read connection and fail
    as the driver reports it; the log's connection is found dead on the runner's next read.
    """
    pids = []
    for alias in dict.fromkeys((target.using, "default")):
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pids.append(cursor.fetchone()[0])
    with psycopg.connect(database_url("default"), autocommit=True) as killer:
        for pid in pids:
            assert killer.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone() == (True,)


def faulty(projection: Projection, monkeypatch: pytest.MonkeyPatch, fault: Fault, times: int) -> list[list[int]]:
    """Make the first `times` batches hit `fault` before the projection's real apply; returns every batch tried."""
    real_apply = projection.apply
    batches: list[list[int]] = []

    def apply(batch: Sequence[RecordedEvent], target: Target) -> None:
        batches.append([e.position for e in batch])
        if len(batches) <= times:
            fault(target)
        real_apply(batch, target)

    monkeypatch.setattr(projection, "apply", apply)
    return batches


@pytest.mark.parametrize("fault", [statement_timeout, terminate_connections], ids=["statement-timeout", "terminated"])
def test_transient_faults_in_a_batch_are_retried_not_counted_and_never_fail_the_projection(
    counting_projection: Projection, monkeypatch: pytest.MonkeyPatch, settings, fault: Fault
) -> None:
    """More faults in a row than PROJECTION_MAX_RETRIES: an error of the projection's own would fail it by now."""
    add_products(6)
    times = settings.PROJECTION_MAX_RETRIES + 1
    batches = faulty(counting_projection, monkeypatch, fault, times)

    assert runner.catch_up(NAME, batch_size=12) == 12

    connections.close_all()  # the test's own connection may have been one of those terminated
    current = state()
    assert (current.status, current.last_error, current.failed_position) == ("active", "", None)
    assert current.checkpoint == head()
    assert view_rows() == expected_rows(6)  # each product's 2 events counted once, not once per try
    assert current.events_applied == 12
    assert len(batches) > times and batches[0][0] == batches[times][0]  # the faulted batch was tried again
    if fault is statement_timeout:
        assert [len(b) for b in batches[:3]] == [12, 6, 3]  # a batch that timed out is retried smaller


def test_an_outage_longer_than_the_budget_ends_the_round_and_the_next_round_applies_everything(
    counting_projection: Projection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retries, "TRANSIENT_RETRY_SECONDS", 0.3)
    add_products(3)
    database_down = True

    def timeout_while_down(target: Target) -> None:
        if database_down:
            statement_timeout(target)

    batches = faulty(counting_projection, monkeypatch, timeout_while_down, times=10_000)

    assert runner.catch_up(NAME) == 0  # gave up for this round...
    current = state()
    assert (current.status, current.checkpoint, current.last_error) == ("active", ORIGIN, "")  # ...not failed
    assert len(batches) > 1
    assert view_rows() == []

    database_down = False
    assert runner.catch_up(NAME) == 6  # the database is back: the next round (beat's, the projector's) does it
    assert state().checkpoint == head()
    assert view_rows() == expected_rows(3)
    assert state().events_applied == 6


def test_the_projections_own_error_on_an_event_still_fails_it_there_even_between_transient_faults(
    counting_projection: Projection, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_products(2)
    poison = append(
        StreamWrite(
            "Product-bad",
            NO_STREAM,
            [
                ProductRegistered(product_id="bad", name=POISON, description="", price=Decimal("1.00")),
            ],
        )
    )
    add_products(1, prefix="after")
    faulty(counting_projection, monkeypatch, statement_timeout, times=2)

    runner.catch_up(NAME)

    failed = state()
    assert failed.status == "failed"
    assert failed.failed_position == poison.checkpoint.position
    assert "ValueError: poison product" in failed.last_error  # the projection's error, not the timeouts
    assert failed.checkpoint < poison.checkpoint
    assert view_rows() == expected_rows(2)  # the events before it were applied, once

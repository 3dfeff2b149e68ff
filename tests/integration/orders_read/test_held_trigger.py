"""A Celery catch-up holds its projection's pending flag while it reads on, and clears it before its last look.

Commits that land while it runs find the flag set and queue no task: the runner reads
them anyway, and a task queued for each would only find the projection busy while
taking a worker slot from the other projections' catch-ups. Nothing may be lost for
it: a commit before the clear is read by the last look, one after it queues a task.
The commit's trigger is called by hand here (`request_catch_up`), its publish recorded.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from eventstore.errors import ProjectionBusy
from eventstore.log.append import head
from eventstore.models import ProjectionState
from eventstore.projections import runner, wakeups
from eventstore.projections.base import all_projections
from eventstore.projections.wakeups import HeldTrigger, pending_key, request_catch_up, take_look_again_note
from eventstore.routers import read_db_alias
from orders_read.models import OrderSummary
from tests.integration.orders_read.support import LogWriter, catch_up_all, wait_readable
from tests.support.services import has_redis_cache

pytestmark = [
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.usefixtures("manual_projections"),
]

NAME = "order_summary"


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The projections a commit's trigger queued a catch-up of; no flag set before or left after."""
    names: list[str] = []
    monkeypatch.setattr(wakeups, "_publish", names.extend)
    keys = [pending_key(p.name) for p in all_projections()]
    cache.delete_many(keys)
    yield names
    cache.delete_many(keys)
    take_look_again_note(NAME)


@pytest.fixture
def shop() -> LogWriter:
    log = LogWriter()
    log.product("A", price="2.00", stock=100)
    log.order("alice", [("A", 1)])
    catch_up_all()
    return log


def checkpoint() -> Any:
    return ProjectionState.objects.using(read_db_alias()).get(name=NAME).checkpoint


def queued_by_a_commit(log: LogWriter, published: list[str]) -> str:
    """An order committed, and its trigger called as after a commit; the order's id."""
    order_id, _ = log.order("bob", [("A", 2)])
    request_catch_up()
    return order_id


def test_commits_while_the_catch_up_reads_on_queue_no_task_and_are_read(
    shop: LogWriter, published: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = queued_by_a_commit(shop, published)
    assert NAME in published  # the flag was clear: the commit queued the catch-up
    published.clear()
    committed_during: list[str] = []
    real_advance = runner.advance

    def commit_after_each_batch(*args: Any) -> int:
        done = real_advance(*args)
        if done and len(committed_during) < 3:
            committed_during.append(queued_by_a_commit(shop, published))
            wait_readable()
        return done

    monkeypatch.setattr(runner, "advance", commit_after_each_batch)
    wait_readable()

    runner.catch_up(NAME, trigger=HeldTrigger(NAME))

    assert len(committed_during) == 3
    assert NAME not in published  # the running catch-up held the flag: no task to find it busy
    assert OrderSummary.objects.filter(pk__in=[first, *committed_during]).count() == 4
    assert checkpoint() == head()
    assert cache.get(pending_key(NAME)) is None  # stopped: the next commit queues a task


def test_a_commit_during_the_last_look_is_read_before_the_catch_up_stops(
    shop: LogWriter, published: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit lands after the look that found nothing, before the flag is deleted: it must not be left unread.

    With Redis it finds the flag RELEASING, queues nothing and leaves it DIRTY, so the
    runner looks again; without Redis the flag is already gone and it queues a task.
    """
    queued_by_a_commit(shop, published)
    published.clear()
    late: list[str] = []
    looks = 0
    real_check = runner.committed_but_unreadable

    def commit_after_the_last_look(name: str) -> bool:
        nonlocal looks
        hidden = real_check(name)
        looks += 1
        if looks == 2:  # the look after the flag was marked: it found nothing
            late.append(queued_by_a_commit(shop, published))
            wait_readable()
        return hidden

    monkeypatch.setattr(runner, "committed_but_unreadable", commit_after_the_last_look)
    wait_readable()

    runner.catch_up(NAME, trigger=HeldTrigger(NAME))

    assert late
    if has_redis_cache():
        assert NAME not in published
        assert OrderSummary.objects.filter(pk=late[0]).exists()
        assert checkpoint() == head()
        assert cache.get(pending_key(NAME)) is None
    else:
        assert NAME in published  # the task it queued reads it


def test_a_catch_up_cut_short_clears_the_flag(shop: LogWriter, published: list[str]) -> None:
    queued_by_a_commit(shop, published)
    queued_by_a_commit(shop, published)
    wait_readable()

    runner.catch_up(NAME, batch_size=1, max_batches=1, trigger=HeldTrigger(NAME))

    assert checkpoint() != head()
    assert cache.get(pending_key(NAME)) is None  # no runner will look again: the next commit must queue one


def test_a_catch_up_that_finds_the_projection_busy_leaves_the_flag_to_the_holder(
    shop: LogWriter, published: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    queued_by_a_commit(shop, published)

    def held_elsewhere(*args: Any) -> int:
        raise ProjectionBusy

    monkeypatch.setattr(runner, "advance", held_elsewhere)

    assert runner.catch_up(NAME, trigger=HeldTrigger(NAME)) == 0

    assert take_look_again_note(NAME)  # the holder is asked to look once more
    assert cache.get(pending_key(NAME)) == 1  # and clears the flag when it stops, after reading on

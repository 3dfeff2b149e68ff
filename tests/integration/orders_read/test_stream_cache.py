"""The stream cache behind time travel: only the tail is read again, and it never answers from a stale stream."""

import dataclasses
import uuid
from collections.abc import Iterator

import pytest
from django.test import override_settings

from eventstore.log.append import read_stream
from orders_read.bus import Viewer, ask
from orders_read.queries import GetProductAsOf
from orders_read.stream_cache import STREAMS
from tests.integration.orders_read.support import LogWriter

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ANYONE = Viewer(None)


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    STREAMS.clear()
    yield
    STREAMS.clear()


def on_hand(sku: str, version: int) -> int:
    return ask(GetProductAsOf(sku=sku, version=version), viewer=ANYONE).result.on_hand


@override_settings(AS_OF_CACHE_FROM=2)
def test_a_cached_stream_is_extended_by_what_was_appended_since() -> None:
    log = LogWriter()
    log.product("A", stock=5)
    assert (on_hand("A", 2), STREAMS.held) == (5, 2)
    log.receive("A", 3)
    log.receive("A", 4)
    assert (on_hand("A", 4), on_hand("A", 3), STREAMS.held) == (12, 8, 4)
    assert STREAMS.events("Product-A") == read_stream("Product-A")


@override_settings(AS_OF_CACHE_FROM=2)
def test_a_stream_that_is_not_the_cached_one_any_more_is_read_again() -> None:
    """A test database emptied and refilled under the same stream id: the last event's id tells."""
    log = LogWriter()
    log.product("A", stock=5)
    log.receive("A", 1)
    assert on_hand("A", 3) == 6
    cached = STREAMS.events("Product-A")
    forged = [
        *cached[:-1],
        dataclasses.replace(cached[-1], event_id=uuid.uuid4(), data={**cached[-1].data, "quantity": 100}),
    ]
    STREAMS.keep("Product-A", forged)
    assert on_hand("A", 3) == 6  # not 105
    assert STREAMS.events("Product-A") == read_stream("Product-A")


@override_settings(AS_OF_CACHE_FROM=3, AS_OF_CACHE_EVENTS=5)
def test_short_streams_are_not_kept_and_the_least_recently_used_go_first() -> None:
    log = LogWriter()
    log.product("SHORT", stock=1)  # 2 events: below AS_OF_CACHE_FROM
    log.product("B", stock=1)
    log.receive("B", 1)  # 3 events
    log.product("C", stock=1)
    log.receive("C", 1)
    log.receive("C", 1)  # 4 events
    on_hand("SHORT", 1)
    assert STREAMS.held == 0
    on_hand("B", 1)
    assert STREAMS.held == 3
    on_hand("C", 1)  # 3 + 4 > 5: B goes
    assert (STREAMS.held, STREAMS.stream_ids) == (4, ["Product-C"])
    log.receive("C", 1)
    log.receive("C", 1)  # 6 events: more than the whole cache, so not kept
    assert (on_hand("C", 6), STREAMS.held) == (5, 0)


@override_settings(AS_OF_CACHE_EVENTS=0)
def test_a_cache_of_no_events_is_off() -> None:
    LogWriter().product("A", stock=5)
    with override_settings(AS_OF_CACHE_FROM=1):
        assert on_hand("A", 2) == 5
    assert STREAMS.held == 0

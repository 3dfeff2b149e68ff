"""The projection trigger a commit fires: every projection's flag, in one Redis round trip.

Every command pays for this after its commit, so its cost is a share of each order
(bench/commands.py). The Redis server is real; the test only counts the packets the
client sends to it.
"""

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from redis.connection import AbstractConnection

from eventstore.projections import wakeups
from eventstore.projections.base import all_projections
from eventstore.projections.wakeups import PENDING_TTL_SECONDS, pending_key, redis_cache, request_catch_up
from tests.support.services import has_redis_cache

pytestmark = pytest.mark.skipif(
    not has_redis_cache(), reason="needs Redis as the cache: set REDIS_URL or a Redis CELERY_BROKER_URL (CI does)"
)


@pytest.fixture
def flags_already_set() -> Iterator[list[str]]:
    """Every projection's pending flag set, as while a catch-up waits: the trigger then queues nothing."""
    keys = [pending_key(projection.name) for projection in all_projections()]
    cache.set_many(dict.fromkeys(keys, 1), timeout=PENDING_TTL_SECONDS)
    try:
        yield keys
    finally:
        cache.delete_many(keys)  # a flag left set would hold back other tests' triggers


def test_the_trigger_finds_the_redis_backend_behind_the_cache_proxy() -> None:
    backend = redis_cache()
    assert backend is not None
    assert backend.get(pending_key("no-such-projection")) is None  # a live client, not just the class


def test_a_commit_touches_every_flag_in_one_round_trip(
    flags_already_set: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(flags_already_set) >= 2  # else one round trip would prove nothing
    sent: list[object] = []
    send = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: object, *args: object, **kwargs: object) -> None:
        sent.append(command)
        send(self, command, *args, **kwargs)

    request_catch_up()  # the first in a process registers the flag-setting script on the server
    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    request_catch_up()

    assert len(sent) == 1
    assert all(cache.get(key) == 1 for key in flags_already_set)  # still set: nothing was queued or cleared


def test_a_commit_sets_the_missing_flags_and_queues_only_their_projections(
    flags_already_set: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [projection.name for projection in all_projections()]
    cleared = names[0]
    cache.delete(pending_key(cleared))
    queued: list[list[str]] = []
    monkeypatch.setattr(wakeups, "_publish", queued.append)

    request_catch_up()

    assert queued == [[cleared]]
    assert cache.get(pending_key(cleared)) == 1
    server = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    ttl = server.ttl(cache.make_and_validate_key(pending_key(cleared)))
    assert 0 < ttl <= PENDING_TTL_SECONDS  # a flag outlives a lost task for PENDING_TTL_SECONDS at most

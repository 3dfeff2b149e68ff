"""The events of long streams kept in memory between as-of queries, so time travel stays fast.

Why: an as-of view folds its stream from the log on every request, and reading a popular
product's 10,000 events costs far more than folding them (bench/temporal.py: most of the
time goes to decoding rows). The log is append-only, so the first N events of a stream
never change: a stream read once needs, the next time, only what was appended since.
Each use reads that tail from the event before it (one indexed query) and checks that the
last cached event is still the log's (same event id); if not (a test database emptied and
refilled under the same stream id), the stream is read again in full. So an answer never
comes from a stale cache. The events handed out are shared between requests: nothing may
change them (the folds only read them).

Only streams of at least `AS_OF_CACHE_FROM` events are kept (short ones read fast), and at
most `AS_OF_CACHE_EVENTS` events in all per process (about 1.2 kB each), least recently
used first out. Both are Django settings with these defaults; a cache of 0 events is off.
"""

import threading
from collections import OrderedDict
from typing import Final

from django.conf import settings

from eventstore.log.append import RecordedEvent, read_stream

DEFAULT_FROM: Final = 500
DEFAULT_EVENTS: Final = 20_000


class StreamCache:
    """Per-process LRU of whole streams (their events in version order), bounded by the events held."""

    def __init__(self) -> None:
        self._streams: OrderedDict[str, list[RecordedEvent]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def events(self, stream_id: str) -> list[RecordedEvent]:
        """Every event of the stream as the log holds it now, in version order."""
        with self._lock:
            cached = self._streams.get(stream_id)
        if cached is None:
            events = read_stream(stream_id)
        else:
            tail = read_stream(stream_id, after_version=cached[-1].version - 1)
            if tail and tail[0].event_id == cached[-1].event_id:
                events = cached if len(tail) == 1 else [*cached, *tail[1:]]
            else:
                events = read_stream(stream_id)
        self.keep(stream_id, events)
        return events

    def clear(self) -> None:
        with self._lock:
            self._streams.clear()
            self._held = 0

    @property
    def held(self) -> int:
        """Events held in all (for tests and the bench)."""
        return self._held

    @property
    def stream_ids(self) -> list[str]:
        """The streams held, least recently used first (for tests)."""
        with self._lock:
            return list(self._streams)

    def keep(self, stream_id: str, events: list[RecordedEvent]) -> None:
        """Hold the stream's events, unless it is too short to be worth it or too long to fit."""
        capacity = getattr(settings, "AS_OF_CACHE_EVENTS", DEFAULT_EVENTS)
        with self._lock:
            self._held -= len(self._streams.pop(stream_id, ()))
            if len(events) < getattr(settings, "AS_OF_CACHE_FROM", DEFAULT_FROM) or len(events) > capacity:
                return
            self._streams[stream_id] = events
            self._held += len(events)
            while self._held > capacity:
                _, dropped = self._streams.popitem(last=False)
                self._held -= len(dropped)


STREAMS: Final = StreamCache()

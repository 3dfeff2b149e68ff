"""The whole log in big batches for a rebuild, read one batch ahead on PostgreSQL.

A rebuild spends its time in two places, reading and decoding the log and folding it
into rows; reading the next batch on another connection while the current one is
folded overlaps the two. The reader runs in autocommit and holds no transaction id,
so reading the whole log holds back no projection reader (DESIGN.md).
"""

import queue
import threading
from collections.abc import Iterator
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from eventstore.positions import Checkpoint
from eventstore.store import RecordedEvent, read_all


def log_batches(start: Checkpoint, size: int, types: list[str], *, prefetch: bool) -> Iterator[list[RecordedEvent]]:
    """The log after `start` in batches; on PostgreSQL read one batch ahead in a thread.

    The reader runs on its own connection in autocommit, so it holds no transaction id
    and does not hold back any projection reader. It is only used outside an atomic
    block: a thread's connection cannot see the caller's uncommitted rows.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    if not prefetch or connection.vendor != "postgresql" or connection.in_atomic_block:
        after = start
        while batch := read_all(after, size, event_types=types):
            yield batch
            after = batch[-1].checkpoint
        return
    yield from _prefetched(start, size, types)


_END = object()


def _prefetched(start: Checkpoint, size: int, types: list[str]) -> Iterator[list[RecordedEvent]]:
    batches: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            _use_orjson(connections[DEFAULT_DB_ALIAS])
            after = start
            while not stop.is_set() and (batch := read_all(after, size, event_types=types)):
                _put(batches, batch, stop)
                after = batch[-1].checkpoint
            _put(batches, _END, stop)
        except BaseException as exc:
            _put(batches, exc, stop)
        finally:
            connections.close_all()  # this thread's own connections

    reader = threading.Thread(target=read, name="rebuild-reader", daemon=True)
    reader.start()
    try:
        while (item := batches.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=30)


def _put(batches: queue.Queue[Any], item: Any, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            batches.put(item, timeout=0.5)
            return
        except queue.Full:
            continue


def _use_orjson(connection: Any) -> None:
    """Decode jsonb with orjson on the reader's connection: several times faster than json.loads."""
    import orjson
    from psycopg.types.json import set_json_loads

    connection.ensure_connection()
    set_json_loads(orjson.loads, connection.connection)

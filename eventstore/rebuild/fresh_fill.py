"""The fast path of a blue/green fill: a projection's fold kept in memory across batches.

A live batch must read the rows it changes from the view and write them back (upsert),
because earlier batches stored them. A blue/green fill starts from empty shadow
tables, so every row a batch needs was made by an earlier batch of the same fill:
keeping the folded rows in memory saves the read and the upsert of every batch, and
the fresh rows are written once, by COPY, into a table with no secondary indexes yet
(DESIGN.md, "How fast a rebuild can be"). Memory stays bounded: past a limit the rows
are flushed and forgotten, and later batches read back the few they touch again.

A projection opts in by offering `fresh_fill(target) -> FreshFill`; one without it is
filled batch by batch through `apply`, as the live runner does. `fill_in_memory` is the
loop the rebuild runs over the whole log with it.

A flush builds rows (Python, one core) and COPYs them (the database's work, on another
core): `writes_behind` runs the COPYs on a thread and connection of their own, so the
next chunk's rows are built while the database takes the previous one.
"""

import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from django.db import connections

from eventstore.backends import recorder_for
from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.log.read import Recorded
from eventstore.projections.base import Projection, Target
from eventstore.rebuild.log_reader import log_batches
from eventstore.rebuild.progress import Reporter

MAX_HELD_ROWS = 100_000
"""Rows a fill keeps in memory before it flushes them: an order row costs about 2-3 kB of Python
objects (measured: 640 MB peak for a 200,000-order fill before rows were written a chunk at a time)."""


class FreshFill(ABC):
    """One fill's in-memory fold; `flush` writes what it holds to the target and forgets it.

    `flush` commits in short transactions of its own (at most `chunk` rows each): one
    long write transaction would hold back every projection reader of the cluster.
    """

    @abstractmethod
    def fold(self, batch: Sequence[Recorded]) -> None:
        """Fold handled events (in log order) into the rows held in memory."""

    @abstractmethod
    def held(self) -> int:
        """How many rows are held in memory (what the flush limit is compared with)."""

    @abstractmethod
    def flush(self, chunk: int) -> None:
        """Write the held rows to the target tables, then forget them."""


def fresh_fill(projection: Projection, target: Target) -> FreshFill | None:
    """The projection's in-memory fill into `target`, or None if it only has `apply`."""
    start = getattr(projection, "fresh_fill", None)
    return start(target) if callable(start) else None


def fill_in_memory(
    projection: Projection, filler: FreshFill, batch_size: int, skipped: frozenset[int], reporter: Reporter
) -> tuple[Checkpoint, int]:
    """The first fill of empty shadow tables, folded in memory and written when the fold grows big or ends.

    Nothing is written between flushes, so no transaction is open while the log is
    read; each flush commits every `batch_size` rows.
    """
    types = sorted(projection.handled_types())
    checkpoint, events = ORIGIN, 0
    if not types:
        return checkpoint, events
    limit = max(batch_size, MAX_HELD_ROWS)
    for batch in log_batches(ORIGIN, batch_size, types, prefetch=True, lean=lean_reads(projection)):
        handled = [e for e in batch if e.position not in skipped] if skipped else batch
        if handled:
            filler.fold(handled)
            if filler.held() >= limit:
                filler.flush(batch_size)
        checkpoint = batch[-1].checkpoint
        events += len(batch)
        reporter.advance(len(batch))
    filler.flush(batch_size)
    return checkpoint, events


def lean_reads(projection: Projection) -> bool:
    """The projection reads neither metadata nor event ids, so the fill need not read them (log_reader)."""
    return not getattr(projection, "needs_metadata", True)


Write = Callable[[], None]


@contextmanager
def writes_behind(using: str) -> Iterator[Callable[[Write], None]]:
    """Yields `later(write)`: the writes run in order on a thread of their own, one queued at most.

    Each write commits on the thread's own connection, so it may only write rows nobody
    else writes (a fill's fresh rows). Every write has committed, or the first error is
    raised, when the block ends: later reads of the fill see them. Where the backend
    takes no concurrent writers, or inside a transaction (whose rows another connection
    could not see), `later` just writes.
    """
    if not recorder_for(using).parallel_rebuilds or connections[using].in_atomic_block:
        yield _now
        return
    pending: queue.Queue[Write | None] = queue.Queue(maxsize=1)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            while (write := pending.get()) is not None:
                if failed:
                    continue  # after a failure the rest is only drained
                try:
                    write()
                except BaseException as exc:
                    failed.append(exc)
        finally:
            connections.close_all()  # this thread's own connections

    writer = threading.Thread(target=run, name="rebuild-writer", daemon=True)
    writer.start()

    def later(write: Write) -> None:
        if failed:
            raise failed[0]
        pending.put(write)

    try:
        yield later
    finally:
        pending.put(None)
        writer.join()
    if failed:
        raise failed[0]


def _now(write: Write) -> None:
    write()

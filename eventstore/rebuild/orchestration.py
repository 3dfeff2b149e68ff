"""Rebuild projections from the log: blue/green into shadow tables, or in place for development.

Blue/green: the projection's tables are copied empty (`<table>__shadow`), filled from
the whole log batch by batch (each batch its own short transaction: one long write
transaction would hold back every projection reader in the cluster, DESIGN.md), then
caught up and swapped in one short transaction that holds the projection's state row
FOR UPDATE, so the live runner pauses just for the swap. Live queries read the live
tables until the rename commits and never see an empty or half-built view. An
interrupted rebuild leaves only a stale shadow, which the next run drops first.

Speed (bench/projections.py, against a set-based INSERT ... SELECT ... GROUP BY): the
shadows are filled without their secondary indexes, which are built once before the
swap (shadow_tables); projections that offer a `fresh_fill` fold the whole log in
memory and COPY the rows (eventstore.rebuild.fresh_fill); the log is read one batch ahead,
leanly where the projection allows it (eventstore.rebuild.log_reader).
"""

import gc
import logging
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import OperationalError, connections, transaction

from eventstore.backends import recorder_for
from eventstore.errors import EventStoreError, ProjectionBusy
from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.log.read import count_after, count_of_types, head
from eventstore.models import ProjectionState
from eventstore.projections.base import Projection, Target, all_projections, get_projection
from eventstore.projections.runner import advance, ensure_state
from eventstore.rebuild import shadow_tables
from eventstore.rebuild.fresh_fill import fill_in_memory, fresh_fill, lean_reads
from eventstore.rebuild.log_reader import log_batches
from eventstore.rebuild.progress import PROGRESS_TTL_SECONDS, Progress, Reporter, progress_key, rebuild_progress
from eventstore.routers import read_db_alias

logger = logging.getLogger(__name__)

SWAP_ATTEMPTS = 5
SWAP_RETRY_PAUSE_SECONDS = 1.0


class RebuildInProgress(EventStoreError):
    """Another process is rebuilding the same projection (two would drop each other's shadow tables)."""


def rebuild_lock_key(name: str) -> int:
    """The lock a rebuild of `name` holds on the read database (a PostgreSQL advisory lock)."""
    return zlib.crc32(f"eventstore-rebuild:{name}".encode())


@contextmanager
def _exclusive(name: str) -> Iterator[None]:
    """One rebuild per projection at a time, cluster-wide (admin, command line, a redelivered task)."""
    db = read_db_alias()
    with recorder_for(db).exclusive(rebuild_lock_key(name), using=db) as acquired:
        if not acquired:
            raise RebuildInProgress(f"a rebuild of {name!r} is already running")
        yield


@dataclass(frozen=True, slots=True)
class RebuildReport:
    name: str
    events: int
    """Events read from the log (handled or not)."""
    seconds: float
    events_per_s: float


def stale_projections() -> list[str]:
    """Projections whose stored version differs from the code's: their views need a rebuild."""
    stored = dict(ProjectionState.objects.using(read_db_alias()).values_list("name", "version"))
    return [p.name for p in all_projections() if p.name in stored and stored[p.name] != p.version]


def rebuild_projections(
    names: Sequence[str], *, in_place: bool = False, batch_size: int = 20000, progress: Progress | None = None
) -> list[RebuildReport]:
    """Rebuild the named projections, blue/green ones side by side in processes of their own where the
    backend allows it (eventstore.rebuild.parallel), else one after the other.

    `progress` is one bar for them all: it gets the events read and to read, summed over the projections.
    """
    from eventstore.rebuild import parallel

    if not in_place and parallel.processes_for(names) > 1:
        return parallel.rebuild_side_by_side(names, batch_size=batch_size, progress=progress)
    bar = parallel.OneBar(progress)
    return [
        rebuild_projection(name, in_place=in_place, batch_size=batch_size, progress=bar.feed(name)) for name in names
    ]


def rebuild_projection(
    name: str,
    *,
    in_place: bool = False,
    batch_size: int = 20000,
    progress: Progress | None = None,
    reporter: type[Reporter] = Reporter,
) -> RebuildReport:
    """Rebuild one projection's views from the log; see the module docstring.

    `reporter` is where progress goes: the cache entry the admin reads, or (in a worker
    process of a parallel rebuild) the parent that owns that entry.
    """
    projection = get_projection(name)
    ensure_state(projection)
    with _exclusive(name):
        total = count_after(ORIGIN) if in_place else _count_handled(projection)
        reporter_ = reporter(name, total, progress)
        started = time.perf_counter()
        gc_was_enabled = gc.isenabled()
        gc.disable()  # folding big batches allocates many small objects; GC passes cost more than they free
        try:
            if in_place:
                events = _rebuild_in_place(projection, batch_size, reporter_)
            else:
                events = _rebuild_blue_green(projection, batch_size, reporter_)
        except BaseException:
            reporter_.finish("failed")
            raise
        finally:
            if gc_was_enabled:
                gc.enable()
    seconds = time.perf_counter() - started
    reporter_.finish("done")
    report = RebuildReport(name, events, round(seconds, 3), round(events / seconds, 1) if seconds else 0.0)
    logger.info(
        "rebuilt projection %s: %d events in %.2fs",
        name,
        events,
        seconds,
        extra={"projection": name, "events": events, "seconds": seconds, "in_place": in_place},
    )
    return report


# Blue/green ------------------------------------------------------------------------


def _rebuild_blue_green(projection: Projection, batch_size: int, reporter: Reporter) -> int:
    db = read_db_alias()
    connection = connections[db]
    skipped = frozenset(_state(projection, db).skipped_positions)
    tables = {model: shadow_tables.create_shadow(connection, model._meta.db_table) for model in projection.models}
    target = Target(using=db, tables=tables)
    try:
        # Secondary indexes (GIN above all) cost more to keep up row by row than to build once.
        deferred = [d for shadow in tables.values() for d in shadow_tables.defer_indexes(connection, shadow)]
        filler = fresh_fill(projection, target)
        if filler is None:
            checkpoint, events = _fill(projection, target, ORIGIN, batch_size, skipped, reporter, prefetch=True)
        else:
            checkpoint, events = fill_in_memory(projection, filler, batch_size, skipped, reporter)
        shadow_tables.build_indexes(connection, deferred)
        reporter.phase("swapping")
        for attempt in range(1, SWAP_ATTEMPTS + 1):
            try:
                more = _catch_up_and_swap(projection, target, checkpoint, batch_size, skipped, reporter, events)
                break
            except OperationalError as exc:
                if not _is_lock_timeout(exc) or attempt == SWAP_ATTEMPTS:
                    raise
                logger.warning(
                    "rebuild of %s: live tables busy, swap attempt %d/%d rolled back",
                    projection.name,
                    attempt,
                    SWAP_ATTEMPTS,
                )
                time.sleep(SWAP_RETRY_PAUSE_SECONDS)
    except BaseException:
        _drop_shadows(connection, tables.values())
        raise
    return events + more


def _catch_up_and_swap(
    projection: Projection,
    target: Target,
    checkpoint: Checkpoint,
    batch_size: int,
    skipped: frozenset[int],
    reporter: Reporter,
    events: int,
) -> int:
    """The one short transaction: lock the state row, apply the rest, rename the tables, move the state.

    The renames need an exclusive lock on each live table, which waits for running
    queries while new ones queue behind it; a bounded lock_timeout keeps that queue
    short, and a timed-out attempt rolls back whole (shadow rows, renames, state).
    """
    db = target.using
    connection = connections[db]
    with transaction.atomic(using=db):
        recorder_for(db).set_lock_timeout(settings.PROJECTION_SWAP_LOCK_TIMEOUT_MS, using=db)
        state = ProjectionState.objects.using(db).select_for_update().get(name=projection.name)
        # Everything up to this head is committed, so the reads below see every handled
        # event before it: the checkpoint may pass the unhandled events after the last one.
        readable = head()
        checkpoint, more = _fill(projection, target, checkpoint, batch_size, skipped, reporter, atomic=False)
        checkpoint = max(checkpoint, readable)
        for model, shadow in target.tables.items():
            shadow_tables.swap(connection, model._meta.db_table, shadow)
        _reset_state(state, projection, checkpoint, events + more, db)
    return more


def _is_lock_timeout(exc: Exception) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == "55P03"  # lock_not_available


def _count_handled(projection: Projection) -> int:
    """Events of the types the projection handles: what a blue/green rebuild reads."""
    return count_of_types(sorted(projection.handled_types()))


def _drop_shadows(connection: Any, tables: Any) -> None:
    """Best effort: a failed rebuild should not leave its half-built copies behind."""
    try:
        if connection.in_atomic_block:
            return  # the enclosing transaction's rollback takes the DDL with it
        for table in tables:
            shadow_tables.drop_table(connection, table)
    except Exception:
        logger.warning("could not drop shadow tables %s", list(tables), exc_info=True)


def _fill(
    projection: Projection,
    target: Target,
    start: Checkpoint,
    batch_size: int,
    skipped: frozenset[int],
    reporter: Reporter,
    *,
    prefetch: bool = False,
    atomic: bool = True,
) -> tuple[Checkpoint, int]:
    """Apply every event after `start` to the target tables; returns the new checkpoint and events read.

    Only handled event types are read from the log, so the checkpoint ends on the last
    handled event; the live runner reads (and passes over) whatever follows it.
    """
    types = sorted(projection.handled_types())
    checkpoint, events = start, 0
    if not types:
        return checkpoint, events
    for batch in log_batches(start, batch_size, types, prefetch=prefetch, lean=lean_reads(projection)):
        handled = [e for e in batch if e.position not in skipped]
        if handled:
            if atomic:
                with transaction.atomic(using=target.using):
                    projection.apply(handled, target)
            else:
                projection.apply(handled, target)
        checkpoint = batch[-1].checkpoint
        events += len(batch)
        reporter.advance(len(batch))
    return checkpoint, events


# In place --------------------------------------------------------------------------


def _rebuild_in_place(projection: Projection, batch_size: int, reporter: Reporter) -> int:
    """Empty the live tables and replay through the runner (development: views are empty meanwhile)."""
    db = read_db_alias()
    connection = connections[db]
    with transaction.atomic(using=db):
        state = ProjectionState.objects.using(db).select_for_update().get(name=projection.name)
        with connection.cursor() as cursor:
            for model in projection.models:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")
        _reset_state(state, projection, ORIGIN, 0, db)
    events = 0
    while True:
        try:
            done = advance(projection, batch_size)
        except ProjectionBusy:  # a live worker holds the row for one batch: it moves the same checkpoint
            time.sleep(0.05)
            continue
        if not done:
            return events
        events += done
        reporter.advance(done)


# State and progress ----------------------------------------------------------------


def _state(projection: Projection, db: str) -> ProjectionState:
    return ProjectionState.objects.using(db).get(name=projection.name)


def _reset_state(state: ProjectionState, projection: Projection, checkpoint: Checkpoint, events: int, db: str) -> None:
    state.checkpoint = checkpoint
    state.version = projection.version
    state.status = ProjectionState.Status.ACTIVE
    state.events_applied = events
    state.failed_position = None
    state.failed_at = None
    state.last_error = ""
    state.save(using=db)


__all__ = [
    "PROGRESS_TTL_SECONDS",
    "RebuildInProgress",
    "RebuildReport",
    "progress_key",
    "rebuild_progress",
    "rebuild_projection",
    "rebuild_projections",
    "stale_projections",
]

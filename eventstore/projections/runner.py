"""The projection runner: advances one projection through the log, batch by batch.

Each batch is one transaction on the read database: lock the projection's checkpoint
row (FOR UPDATE SKIP LOCKED, so two workers never advance the same projection), read
the next events after the checkpoint, apply them, move the checkpoint, commit. View
rows and checkpoint move together, so a crash anywhere leaves both as they were and
no event is applied twice. An event that keeps failing stops its projection, marked
`failed` with the event and the error; nothing is skipped unless an operator says so.

A database error that says nothing about the event never fails a projection and never
counts as one of its retries (`eventstore.projections.retries`).
"""

import functools
import gc
import logging
import threading
import time
import traceback
from collections.abc import Sequence
from typing import NamedTuple

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from eventstore.backends import recorder_for
from eventstore.errors import ProjectionBusy
from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.log.read import RecordedEvent, count_after, read_all
from eventstore.models import ProjectionState
from eventstore.projections import state_rows
from eventstore.projections.base import Projection, Target, get_projection
from eventstore.projections.retries import DatabaseUnavailable, TransientRetry
from eventstore.projections.state_rows import StateRow
from eventstore.projections.wakeups import HeldTrigger, leave_look_again_note, take_look_again_note
from eventstore.routers import read_db_alias
from eventstore.transient import is_transient, sqlstates

logger = logging.getLogger(__name__)

Status = ProjectionState.Status
IN_FLIGHT_WAIT_SECONDS = 1.0
_IN_FLIGHT_FIRST_SLEEP = 0.002
_IN_FLIGHT_MAX_SLEEP = 0.01  # a hidden event is usually a commit a few ms away: look often, briefly


class _CommitsHeard:
    """Commits this process hears of, so a runner waiting for hidden events looks again at each.

    A transaction that holds a transaction id hides every event committed after it took
    that id from every reader of the log. Under steady appends the transaction hiding a
    runner's next event is most often a batch of another projection in the same process
    (`run_projector`'s threads, a threaded worker), whose commit no NOTIFY follows, or
    another process's append, whose NOTIFY `run_projector` hears. Both are told here, so
    the hidden runner looks again as soon as either commits instead of sleeping out its
    back-off, which only bounds the wait.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.count = 0

    def committed(self) -> None:
        with self._changed:
            self.count += 1
            self._changed.notify_all()

    def wait_after(self, seen: int, timeout: float) -> None:
        """Until a batch commits after `seen` was read from `count`, or `timeout` passes."""
        with self._changed:
            self._changed.wait_for(lambda: self.count != seen, timeout)


commits_heard = _CommitsHeard()


_STATEMENT_TIMEOUT = "57014"


def ensure_state(projection: Projection) -> ProjectionState:
    """The projection's state row, created at the origin (and current version) if missing."""
    state, _ = ProjectionState.objects.using(read_db_alias()).get_or_create(
        name=projection.name, defaults={"version": projection.version}
    )
    return state


class CatchUp(NamedTuple):
    """How a catch-up ended: the events it read, and whether it saw the whole committed log read."""

    events: int
    at_head: bool
    """True when it stopped because every committed event beyond the checkpoint was read;
    False when it stopped for another reason (another runner held the projection, an open
    transaction hid events for too long, the database was unavailable, `max_batches`)."""


def catch_up(
    name: str, *, batch_size: int | None = None, max_batches: int | None = None, trigger: HeldTrigger | None = None
) -> int:
    """Advance the projection to the head of the log; returns the number of events read.

    Two ways a committed event could be left waiting for beat, both closed here:
    - another runner holds the projection (it may have read its last batch before our
      trigger's commit): we leave it a note to look once more before it stops, and try
      the lock once more ourselves, instead of occupying a worker thread in a wait;
    - the event is committed but not yet readable, because an older transaction of the
      cluster is still open (DESIGN.md): we look again after a short back-off.
    A Celery catch-up passes the `trigger` it was queued by: the runner holds that
    projection's pending flag while it reads on, and clears it before its last look.
    """
    return catch_up_to_head(name, batch_size=batch_size, max_batches=max_batches, trigger=trigger).events


def catch_up_to_head(
    name: str, *, batch_size: int | None = None, max_batches: int | None = None, trigger: HeldTrigger | None = None
) -> CatchUp:
    """`catch_up`, telling also whether it ended at the head, so a caller need not ask the database again."""
    projection = get_projection(name)
    retry = TransientRetry(name)
    size = batch_size or settings.PROJECTION_BATCH_SIZE
    total, batches, tried_again = 0, 0, False
    in_flight_deadline: float | None = None
    sleep = _IN_FLIGHT_FIRST_SLEEP
    db = read_db_alias()
    left_to_holder = False
    try:
        if retry.call(lambda: state_rows.read(db, name)) is None:
            retry.call(lambda: ensure_state(projection))
        while max_batches is None or batches < max_batches:
            commits_seen = commits_heard.count  # before the read: a commit after it may have unhidden events
            try:
                done = _advance_with_retries(projection, size, retry)
            except ProjectionBusy:
                if tried_again:
                    left_to_holder = True  # the holder clears the flag when it stops, after reading on
                    return CatchUp(total, at_head=False)
                leave_look_again_note(name)
                tried_again = True
                continue
            tried_again = False
            if done:
                total += done
                batches += 1
                sleep = _IN_FLIGHT_FIRST_SLEEP
                in_flight_deadline = None  # the wait is for a transaction that holds the log back, not for this run
                if trigger is not None:
                    trigger.reading_on()
                continue
            if take_look_again_note(name):
                continue  # a runner that found us busy asked us to look once more
            if not retry.call(lambda: committed_but_unreadable(name)):
                if trigger is not None and not trigger.may_stop():
                    continue  # a last look, for the commits that found the flag still set
                return CatchUp(total, at_head=True)
            in_flight_deadline = in_flight_deadline or time.monotonic() + IN_FLIGHT_WAIT_SECONDS
            if time.monotonic() > in_flight_deadline:
                return CatchUp(total, at_head=False)  # a long transaction holds the log back; beat comes back for it
            commits_heard.wait_after(commits_seen, sleep)
            sleep = min(sleep * 2, _IN_FLIGHT_MAX_SLEEP)
    except DatabaseUnavailable as exc:
        logger.warning("projection %s: %s; stopping this round, the projection stays active", name, exc)
    finally:
        if trigger is not None and not left_to_holder:
            trigger.stop_short()  # a no-op after a stop at the head, which deleted the flag already
    return CatchUp(total, at_head=False)


def freeze_start_up_heap() -> None:
    """Keep what a process that runs projections built at start-up (Django, every app) out of garbage collection.

    Those objects are most of its heap and live as long as the process, yet a full
    collection walks every one of them holding the interpreter lock: it pauses every
    projection thread at once, and the views' lag grows by the whole pause. Frozen, they
    are never walked again; what catch-ups allocate is collected as before. Both ways of
    running projections call it at start-up: the Celery worker (`config.celery_app`) and
    `run_projector`.
    """
    gc.collect()
    gc.freeze()


def warm_up() -> None:
    """Open this thread's connections and run, reading only, the statements a catch-up starts with.

    A worker thread's first catch-up would otherwise open its connections (a server
    process forked, its session set up) and compile its first queries before reading an
    event, all of it in the views' lag; a worker runs this in each of its threads at
    start-up (`config.celery_app`). Nothing is locked or written.
    """
    from eventstore.projections.base import all_projections

    db = read_db_alias()
    for projection in all_projections():
        projection.handled_types()
        state = state_rows.read(db, projection.name)
        read_all(ORIGIN if state is None else state.checkpoint, 1)


def committed_but_unreadable(name: str) -> bool:
    """Events beyond the checkpoint exist, but an older open transaction hides them for now.

    Inside a caller's transaction its own uncommitted events would count too (and can
    never become readable while we wait), so there the answer is simply no.
    """
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return False
    state = state_rows.read(read_db_alias(), name)
    return state is not None and state.status == Status.ACTIVE and count_after(state.checkpoint) > 0


def _advance_with_retries(projection: Projection, size: int, retry: TransientRetry) -> int:
    """The next batch; an error of the projection's own is tried PROJECTION_MAX_RETRIES times, then isolated.

    Transient errors are retried apart, without counting; a statement timeout also
    halves the batch for the next try, so a batch too big to apply in time gets through.
    """
    attempts = settings.PROJECTION_MAX_RETRIES
    failures = 0
    while True:
        try:
            done = advance(projection, size)
        except ProjectionBusy:
            raise
        except Exception as exc:
            if is_transient(exc):
                retry.wait(exc)
                if _STATEMENT_TIMEOUT in sqlstates(exc):
                    size = max(1, size // 2)
                continue
            failures += 1
            logger.warning(
                "projection %s: batch failed (attempt %d/%d)", projection.name, failures, attempts, exc_info=True
            )
            if failures >= attempts:
                return _isolate_failure(projection, retry)
            continue
        retry.reset()
        return done


def advance(projection: Projection, size: int) -> int:
    """Apply the next batch in one transaction; returns the events read (0 at the head).

    The batch is read before the checkpoint row is locked: the lock takes a transaction
    id, and an open transaction id holds back every reader of the log (DESIGN.md), the
    other projections' runners included. So the runner holds one only while it writes,
    and a look at an empty tail holds none. Under the lock the checkpoint must still be
    the one the batch was read after (another runner may have moved it since); if it
    is not, the batch is read again there.
    """
    db = read_db_alias()
    seen = state_rows.read(db, projection.name)
    if seen is None or seen.status != Status.ACTIVE:
        return 0
    batch = read_all(seen.checkpoint, size)
    if not batch:
        return 0
    with transaction.atomic(using=db):
        state = state_rows.lock(db, projection.name)
        if state is None:
            raise ProjectionBusy
        if state.status != Status.ACTIVE:
            return 0
        if state.checkpoint != seen.checkpoint:
            batch = read_all(state.checkpoint, size)
            if not batch:
                return 0
        _skip_commit_flush(db)
        _apply(projection, state, batch, Target(using=db))
    commits_heard.committed()
    return len(batch)


def _skip_commit_flush(db: str) -> None:
    """Commit this batch without waiting for the WAL flush (PostgreSQL `synchronous_commit`).

    Safe for projections: a crash can lose only the last batches' commits, and since view
    rows and checkpoint are in the same transaction they are lost together; the next run
    re-applies them from the older checkpoint. It takes the fsync out of the lag.
    """
    recorder_for(db).commit_without_flush(using=db)


def _apply(projection: Projection, state: StateRow, batch: Sequence[RecordedEvent], target: Target) -> None:
    types = projection.handled_types()
    handled = [e for e in batch if e.event_type in types and e.position not in state.skipped]
    if handled:
        projection.apply(handled, target)
    state_rows.move(target.using, projection.name, batch[-1].checkpoint, len(handled), batch[-1].recorded_at)


def _isolate_failure(projection: Projection, retry: TransientRetry) -> int:
    """The batch keeps failing: apply event by event up to the poison one, then stop there."""
    applied = 0
    while True:
        try:
            done = retry.call(lambda: advance(projection, 1))
        except ProjectionBusy:
            return applied
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            retry.call(functools.partial(_mark_failed, projection, exc))
            return applied
        if not done:
            return applied  # the failure did not reproduce one event at a time
        applied += done


def _mark_failed(projection: Projection, exc: Exception) -> None:
    db = read_db_alias()
    with transaction.atomic(using=db):
        state = ProjectionState.objects.using(db).select_for_update().get(name=projection.name)
        poison = read_all(state.checkpoint, 1)
        state.status = Status.FAILED
        state.failed_position = poison[0].position if poison else None
        state.failed_at = timezone.now()
        state.last_error = "".join(traceback.format_exception(exc))[-4000:]
        state.save(using=db)
    logger.error("projection %s failed at position %s: %r", projection.name, state.failed_position, exc)


def resume(name: str) -> ProjectionState:
    """Clear a failure so the runner tries the failed event again (after a fix)."""
    return _update_failed(name, skip=False)


def skip_failed_event(name: str) -> ProjectionState:
    """Resume past the event a projection failed on; the skip is recorded in its state."""
    return _update_failed(name, skip=True)


def _update_failed(name: str, *, skip: bool) -> ProjectionState:
    projection = get_projection(name)
    db = read_db_alias()
    ensure_state(projection)
    with transaction.atomic(using=db):
        state = ProjectionState.objects.using(db).select_for_update().get(name=name)
        if skip:
            if state.status != Status.FAILED or state.failed_position is None:
                raise ValueError(f"projection {name!r} has not failed on an event; nothing to skip")
            state.skipped_positions = [*state.skipped_positions, state.failed_position]
        state.status = Status.ACTIVE
        state.failed_position = None
        state.failed_at = None
        state.last_error = "" if not skip else state.last_error
        state.save(using=db)
    return state


def passed(checkpoint: Checkpoint, names: Sequence[str]) -> bool:
    """True when every named projection's checkpoint is at or beyond `checkpoint`.

    One statement of three columns, written out rather than built by the ORM: every
    read that carries a consistency token asks it, and compiling a model query (and
    building its rows) would cost such a read more than the lookup itself.
    """
    if not names:
        return True
    placeholders = ", ".join(["%s"] * len(names))
    with connections[read_db_alias()].cursor() as cursor:
        cursor.execute(
            f"SELECT name, checkpoint_txid, checkpoint_position FROM {_STATES} WHERE name IN ({placeholders})",
            list(names),
        )
        found = {name: Checkpoint(txid, position) for name, txid, position in cursor.fetchall()}
    return all(name in found and found[name] >= checkpoint for name in names)


_STATES = ProjectionState._meta.db_table

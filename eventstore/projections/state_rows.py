"""A projection's checkpoint row as the runner reads, locks and moves it: plain SQL, no model instances.

The runner touches this row several times per batch, and `run_projector` runs a batch
per projection for every few commits, all its threads sharing one interpreter lock.
Through the ORM each touch costs several times the statement it sends (query
compilation, model instances, `save`), and that time is taken from the other
projections' threads: the lag of every view grew with it. Here each touch is one
short statement on the connection's cursor. Everything else (creating the row,
failures, resume, rebuilds) stays with the `ProjectionState` model, which owns the
table.
"""

from datetime import datetime
from typing import Any, NamedTuple

import orjson
from django.db import connections
from django.utils import timezone

from eventstore.log.positions import Checkpoint
from eventstore.models import ProjectionState

_TABLE = ProjectionState._meta.db_table
_READ = f"SELECT status, checkpoint_txid, checkpoint_position, skipped_positions FROM {_TABLE} WHERE name = %s"


class StateRow(NamedTuple):
    """What the runner needs of the row: whether it may advance, from where, and what to pass over."""

    status: str
    checkpoint: Checkpoint
    skipped: frozenset[int]


def _row(found: Any) -> StateRow | None:
    if found is None:
        return None
    status, txid, position, skipped = found
    if isinstance(skipped, str | bytes):  # jsonb and SQLite's JSON both arrive as text
        skipped = orjson.loads(skipped)
    return StateRow(status, Checkpoint(int(txid), int(position)), frozenset(skipped or ()))


def read(using: str, name: str) -> StateRow | None:
    """The row as committed now (None if the projection has none yet)."""
    with connections[using].cursor() as cursor:
        cursor.execute(_READ, [name])
        return _row(cursor.fetchone())


def lock(using: str, name: str) -> StateRow | None:
    """The row, locked for this transaction; None when another transaction holds it (or it is gone).

    `FOR UPDATE SKIP LOCKED` where the database has it; elsewhere (SQLite) the database
    lets one writer in at a time, and the row is only read.
    """
    connection = connections[using]
    sql = _READ
    if connection.features.has_select_for_update_skip_locked:
        sql += " " + connection.ops.for_update_sql(skip_locked=True)
    with connection.cursor() as cursor:
        cursor.execute(sql, [name])
        return _row(cursor.fetchone())


def move(using: str, name: str, checkpoint: Checkpoint, applied: int, last_event_at: datetime | None) -> None:
    """Move the checkpoint past a batch that applied `applied` events (inside the batch's transaction)."""
    ops = connections[using].ops
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TABLE} SET checkpoint_txid = %s, checkpoint_position = %s,"
            " events_applied = events_applied + %s, last_event_at = %s, updated_at = %s WHERE name = %s",
            [
                checkpoint.txid,
                checkpoint.position,
                applied,
                ops.adapt_datetimefield_value(last_event_at),
                ops.adapt_datetimefield_value(timezone.now()),
                name,
            ],
        )

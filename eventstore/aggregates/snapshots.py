"""Snapshots: when one is due, and storing it (`eventstore.aggregates.loading` reads them).

Snapshots are a cache: deleting them changes nothing but the speed of a load.
"""

from typing import Any

import orjson
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.utils import timezone

from eventstore.aggregates.loading import Aggregate, stream_id_for
from eventstore.backends import recorder_for


def snapshot_due(previous_version: int, new_version: int) -> bool:
    """True when the append crossed a multiple of EVENTSTORE_SNAPSHOT_EVERY."""
    every = settings.EVENTSTORE_SNAPSHOT_EVERY
    return every > 0 and new_version // every > previous_version // every


def save_snapshot(aggregate: Aggregate[Any], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Store the aggregate's state unless a newer snapshot is already there.

    Called after the command committed and outside its transaction: a cache write
    must never make a command fail or hold its transaction open longer.
    """
    state = orjson.dumps(aggregate.snapshot_state()).decode()
    recorder_for(using).upsert_snapshot(
        stream_id_for(type(aggregate), aggregate.id),
        aggregate.version,
        aggregate.snapshot_schema,
        state,
        timezone.now(),
        using=using,
    )

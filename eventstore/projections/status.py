"""Where every projection stands: status, versions, checkpoint and lag, computed from the databases.

One function serves `projection_status`, the admin, `/readyz` and `/metrics`. Lag is
read from the log at call time rather than kept in process memory, because gunicorn
and Celery run many processes and any of them may be asked.
"""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from eventstore.log.append import count_after
from eventstore.log.positions import ORIGIN, Checkpoint
from eventstore.models import ProjectionState
from eventstore.projections.base import all_projections
from eventstore.routers import read_db_alias


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    name: str
    status: str
    code_version: int
    stored_version: int | None
    checkpoint: str
    checkpoint_position: int
    lag_events: int
    lag_seconds: float
    events_applied: int
    last_error: str
    failed_position: int | None

    @property
    def needs_rebuild(self) -> bool:
        return self.stored_version is not None and self.stored_version != self.code_version

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "needs_rebuild": self.needs_rebuild}


def projection_statuses() -> list[ProjectionStatus]:
    """One entry per registered projection (a projection never run yet stands at the origin)."""
    states = {s.name: s for s in ProjectionState.objects.using(read_db_alias()).all()}
    now = timezone.now()
    result = []
    for projection in all_projections():
        state = states.get(projection.name)
        checkpoint = state.checkpoint if state else ORIGIN
        lag = count_after(checkpoint)
        oldest = _oldest_unread(checkpoint) if lag else None
        result.append(
            ProjectionStatus(
                name=projection.name,
                status=state.status if state else ProjectionState.Status.ACTIVE,
                code_version=projection.version,
                stored_version=state.version if state else None,
                checkpoint=checkpoint.token(),
                checkpoint_position=checkpoint.position,
                lag_events=lag,
                lag_seconds=round(max((now - oldest).total_seconds(), 0.0), 3) if oldest else 0.0,
                events_applied=state.events_applied if state else 0,
                last_error=state.last_error if state else "",
                failed_position=state.failed_position if state else None,
            )
        )
    return result


def _oldest_unread(after: Checkpoint) -> datetime | None:
    """When the first event past the checkpoint was recorded: how long the view has been behind."""
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT recorded_at FROM eventstore_event WHERE (transaction_id, position) > (%s::xid8, %s)"
                " ORDER BY transaction_id, position LIMIT 1",
                [str(after.txid), after.position],
            )
        else:
            cursor.execute(
                "SELECT recorded_at FROM eventstore_event WHERE position > %s ORDER BY position LIMIT 1",
                [after.position],
            )
        row = cursor.fetchone()
    if row is None:
        return None
    value = row[0]
    if not isinstance(value, datetime):
        value = parse_datetime(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=UTC)
    return value

"""Where every projection stands: status, versions, checkpoint and lag, computed from the databases.

One function serves `projection_status`, the admin, `/readyz` and `/metrics`. Lag is
read from the log at call time rather than kept in process memory, because gunicorn
and Celery run many processes and any of them may be asked.
"""

from dataclasses import asdict, dataclass
from typing import Any

from django.utils import timezone

from eventstore.log.positions import ORIGIN
from eventstore.log.read import count_after, first_recorded_after
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
        oldest = first_recorded_after(checkpoint) if lag else None
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

"""Startup check: warn when a projection's code version differs from the version its views were built at.

Bumping `Projection.version` is how a changed projection asks for a rebuild; this
check makes `runserver`, `migrate` and `manage.py check` say so. It never fails the
start: on a fresh database (before `migrate`) or without a reachable database there
is simply nothing to compare yet.
"""

from typing import Any

from django.core.checks import CheckMessage, Warning, register

NEEDS_REBUILD = "eventstore.W001"


@register("eventstore")
def projection_versions_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """One warning per projection whose stored version is not its code version."""
    from eventstore.projections.base import all_projections
    from eventstore.rebuild.orchestration import stale_projections

    try:
        stale = set(stale_projections())
    except Exception:  # no table yet, no database, or DB access not allowed here: nothing to compare
        return []
    messages: list[CheckMessage] = []
    for projection in all_projections():
        if projection.name in stale:
            messages.append(
                Warning(
                    f"projection {projection.name!r} needs rebuild: its code is at version {projection.version},"
                    " its views were built by another version",
                    hint=f"run `manage.py rebuild_projections {projection.name}` (blue/green, no downtime)",
                    obj=projection.name,
                    id=NEEDS_REBUILD,
                )
            )
    return messages

"""The worker side of a parallel rebuild (eventstore.rebuild.parallel): set Django up, rebuild, report.

A spawned worker imports this module before Django is set up (to find its
initializer), so nothing here imports a model or anything that does until `start`
has run `django.setup()`. Settings come from the environment as in any process of
the deployment; overrides made at run time in the parent (a test's) do not reach it.
"""

import importlib
import multiprocessing
import os
from typing import Any

_updates: "multiprocessing.Queue[tuple[str, str, Any]] | None" = None
"""Where this worker's progress goes (set by `start`)."""

NICENESS = 10
"""How far a worker steps back for the CPU. The caller rebuilds the biggest projection, which
ends last (its fold, then its index builds, take longest): the workers' smaller rebuilds end
earlier anyway, so when there are fewer cores than work, the caller's fold should have the
CPU first and the workers should use what it leaves (while it waits on the database)."""


def start(updates: "multiprocessing.Queue[tuple[str, str, Any]]", databases: dict[str, str]) -> None:
    """Set Django up (the environment, DJANGO_SETTINGS_MODULE included, is the parent's) on the
    parent's databases, a test run's test databases too."""
    global _updates
    _updates = updates
    if hasattr(os, "nice"):
        os.nice(NICENESS)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    for alias, name in databases.items():
        settings.DATABASES[alias]["NAME"] = name
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = name


def send(name: str, kind: str, value: Any) -> None:
    """One progress message to the parent: ("start", total), ("advance", events) or ("phase", phase)."""
    assert _updates is not None, "only a worker started by rebuild_side_by_side reports to a parent"
    _updates.put((name, kind, value))


def rebuild_one(name: str, cls: tuple[str, str], batch_size: int) -> Any:
    """`rebuild_projection` of `name` with its progress sent to the parent; returns its RebuildReport."""
    from eventstore.errors import ProjectionNotFound
    from eventstore.projections.base import get_projection, register
    from eventstore.rebuild.orchestration import rebuild_projection
    from eventstore.rebuild.parallel import Forwarder

    try:
        get_projection(name)
    except ProjectionNotFound:  # registered at run time in the parent (a test's): register it here too
        register(_import(*cls))
    return rebuild_projection(name, batch_size=batch_size, reporter=Forwarder)


def _import(module: str, qualname: str) -> Any:
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found

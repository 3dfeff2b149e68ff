"""Rebuilding several projections side by side, each in a process of its own, behind one progress bar.

A blue/green rebuild is bound by one core of Python (decoding and folding the log)
while the database takes its COPYs and builds its indexes; projections own disjoint
tables and each swaps its own in one short transaction, so filling them in separate
processes changes nothing a reader of the views can see, and uses every core.

The parent owns the progress: a worker's `Forwarder` sends its advances and phases
over a queue, and the parent feeds them to the same per-projection cache entries the
admin and the metrics read (`Reporter`) and to one callback with the sums over every
projection. Workers are spawned (not forked: the parent's open connections and
threads must not be shared) and use the parent's databases, test databases included.
SQLite serializes its writers, so there the rebuilds run one after the other.
"""

import importlib
import multiprocessing
import os
import queue
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connections

from eventstore.backends import recorder_for
from eventstore.log.read import count_of_types
from eventstore.projections.base import get_projection, register
from eventstore.rebuild.progress import Progress, Reporter
from eventstore.routers import read_db_alias

if TYPE_CHECKING:
    from eventstore.rebuild.orchestration import RebuildReport

_updates: "multiprocessing.Queue[tuple[str, str, Any]] | None" = None
"""In a worker process: where its Forwarders send progress (set by `_start_worker`)."""


def processes_for(names: Sequence[str]) -> int:
    """How many worker processes a blue/green rebuild of `names` uses here (1: none, run in turn).

    Side by side only where the backend takes concurrent writers, and outside a
    transaction: a worker's connection could not see the caller's uncommitted rows.
    """
    wanted = min(len(names), settings.PROJECTION_REBUILD_PROCESSES or os.cpu_count() or 1)
    db = read_db_alias()
    if wanted < 2 or not recorder_for(db).parallel_rebuilds or multiprocessing.current_process().daemon:
        return 1  # a daemonic process (a worker pool's) may not start processes of its own
    if any(connections[alias].in_atomic_block for alias in {db, "default"}):
        return 1
    return wanted


class OneBar:
    """Sums the progress of several rebuilds into one (done, total) for one callback."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.done: dict[str, int] = {}
        self.total: dict[str, int] = {}

    def feed(self, name: str) -> Progress | None:
        """The per-projection callback that feeds this bar (None when nobody watches)."""
        if self.progress is None:
            return None

        def update(done: int, total: int) -> None:
            self.update(name, done, total)

        return update

    def update(self, name: str, done: int, total: int) -> None:
        self.done[name], self.total[name] = done, total
        if self.progress is not None:
            self.progress(sum(self.done.values()), sum(self.total.values()))


class Forwarder(Reporter):
    """A worker's reporter: sends what a Reporter would store to the parent, which stores it."""

    def __init__(self, name: str, total: int, callback: Progress | None) -> None:
        self.name, self.total, self.done, self.current = name, total, 0, "running"
        _send(name, "start", total)

    def advance(self, events: int) -> None:
        self.done += events
        _send(self.name, "advance", events)

    def phase(self, phase: str) -> None:
        self.current = phase
        _send(self.name, "phase", phase)

    finish = phase


def _send(name: str, kind: str, value: Any) -> None:
    assert _updates is not None, "a Forwarder only runs in a worker started by rebuild_side_by_side"
    _updates.put((name, kind, value))


def rebuild_side_by_side(names: Sequence[str], *, batch_size: int, progress: Progress | None) -> list["RebuildReport"]:
    """Blue/green rebuilds of `names` in worker processes; reports in the order of `names`.

    Every rebuild runs to its end even when another fails (each is whole on its own);
    then the first failure, in the order of `names`, is raised.
    """
    context = multiprocessing.get_context("spawn")
    updates: multiprocessing.Queue[tuple[str, str, Any]] = context.Queue()
    databases = {alias: connections[alias].settings_dict["NAME"] for alias in connections}
    classes = {name: (type(p).__module__, type(p).__qualname__) for name in names for p in [get_projection(name)]}
    bar, reporters = OneBar(progress), dict[str, Reporter]()
    totals = {name: count_of_types(sorted(get_projection(name).handled_types())) for name in names}
    with ProcessPoolExecutor(
        max_workers=processes_for(names),
        mp_context=context,
        initializer=_start_worker,
        initargs=(updates, databases),
    ) as pool:
        # The biggest first: with fewer processes than projections, the small ones fill the gaps.
        futures = {
            name: pool.submit(_rebuild_one, name, classes[name], batch_size, totals[name])
            for name in sorted(names, key=totals.__getitem__, reverse=True)
        }
        while not all(f.done() for f in futures.values()):
            _pump(updates, reporters, bar, timeout=0.1)
        _pump(updates, reporters, bar, timeout=0)
    for name, future in futures.items():
        if future.exception() is not None and name in reporters and reporters[name].current != "failed":
            reporters[name].finish("failed")  # the worker died before it could say so
    return [_result(futures[name]) for name in names]


def _result(future: "Future[RebuildReport]") -> "RebuildReport":
    return future.result()


def _pump(
    updates: "multiprocessing.Queue[tuple[str, str, Any]]",
    reporters: dict[str, Reporter],
    bar: OneBar,
    *,
    timeout: float,
) -> None:
    """Apply the workers' queued progress to the parent's reporters and the one bar."""
    while True:
        try:
            name, kind, value = updates.get(timeout=timeout) if timeout else updates.get_nowait()
        except queue.Empty:
            return
        timeout = 0  # drain what else is queued without waiting again
        if kind == "start":
            reporters[name] = Reporter(name, value, bar.feed(name))
            bar.update(name, 0, value)
        elif kind == "advance":
            reporters[name].advance(value)
        else:
            reporters[name].phase(value)


def _start_worker(updates: "multiprocessing.Queue[tuple[str, str, Any]]", databases: dict[str, str]) -> None:
    """Set Django up in a fresh worker (the environment, DJANGO_SETTINGS_MODULE included, is the parent's)
    on the parent's databases, a test run's test databases too."""
    global _updates
    _updates = updates
    import django

    django.setup()
    for alias, name in databases.items():
        settings.DATABASES[alias]["NAME"] = name
        connections[alias].close()
        connections[alias].settings_dict["NAME"] = name


def _rebuild_one(name: str, cls: tuple[str, str], batch_size: int, total: int) -> "RebuildReport":
    from eventstore.errors import ProjectionNotFound
    from eventstore.rebuild.orchestration import rebuild_projection

    try:
        get_projection(name)
    except ProjectionNotFound:  # registered at run time in the parent (a test's): register it here too
        register(_import(*cls))
    return rebuild_projection(name, batch_size=batch_size, reporter=Forwarder, total=total)


def _import(module: str, qualname: str) -> Any:
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found

"""Rebuilding several projections side by side, each in a process of its own, behind one progress bar.

The biggest projection (by the events it applied when last built) is rebuilt in the
calling process, the others in spawned worker processes, up to one process per core.

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

import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connections

from eventstore.backends import recorder_for
from eventstore.models import ProjectionState
from eventstore.projections.base import get_projection
from eventstore.rebuild import worker
from eventstore.rebuild.orchestration import RebuildReport, rebuild_projection
from eventstore.rebuild.progress import Progress, Reporter
from eventstore.routers import read_db_alias


def processes_for(names: Sequence[str]) -> int:
    """How many processes, this one included, a blue/green rebuild of `names` uses here (1: run in turn).

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
        self.lock = threading.Lock()  # fed by this process's own rebuild and by the workers' pump

    def feed(self, name: str) -> Progress | None:
        """The per-projection callback that feeds this bar (None when nobody watches)."""
        if self.progress is None:
            return None

        def update(done: int, total: int) -> None:
            self.update(name, done, total)

        return update

    def update(self, name: str, done: int, total: int) -> None:
        with self.lock:
            self.done[name], self.total[name] = done, total
            if self.progress is not None:
                self.progress(sum(self.done.values()), sum(self.total.values()))


class Forwarder(Reporter):
    """A worker's reporter: sends what a Reporter would store to the parent, which stores it."""

    def __init__(self, name: str, total: int, callback: Progress | None) -> None:
        self.name, self.total, self.done, self.current = name, total, 0, "running"
        worker.send(name, "start", total)

    def advance(self, events: int) -> None:
        self.done += events
        worker.send(self.name, "advance", events)

    def phase(self, phase: str) -> None:
        self.current = phase
        worker.send(self.name, "phase", phase)

    finish = phase


def rebuild_side_by_side(names: Sequence[str], *, batch_size: int, progress: Progress | None) -> list[RebuildReport]:
    """Blue/green rebuilds of `names`: the biggest in this process, the others in worker processes.

    The biggest starts at once, while the workers start up (a fresh interpreter and
    Django take about a second). Every rebuild runs to its end even when another fails
    (each is whole on its own); then the first failure, in the order of `names`, is raised.
    """
    ordered = sorted(names, key=_sizes(names).__getitem__, reverse=True)
    context = multiprocessing.get_context("spawn")
    updates: multiprocessing.Queue[tuple[str, str, Any]] = context.Queue()
    databases = {alias: connections[alias].settings_dict["NAME"] for alias in connections}
    bar, outcomes = OneBar(progress), dict[str, Future[RebuildReport]]()
    pump = Pump(updates, bar)
    with ProcessPoolExecutor(
        max_workers=min(len(ordered) - 1, processes_for(names) - 1),
        mp_context=context,
        initializer=worker.start,
        initargs=(updates, databases),
    ) as pool:
        # The biggest first: with fewer processes than projections, the small ones fill the gaps.
        outcomes = {name: pool.submit(worker.rebuild_one, name, _class_of(name), batch_size) for name in ordered[1:]}
        pump.start()
        own: Future[RebuildReport] = Future()
        try:
            own.set_result(rebuild_projection(ordered[0], batch_size=batch_size, progress=bar.feed(ordered[0])))
        except Exception as exc:
            own.set_exception(exc)
        outcomes[ordered[0]] = own
    pump.finish({name: future.exception() is None for name, future in outcomes.items() if future is not own})
    return [outcomes[name].result() for name in names]


def _sizes(names: Sequence[str]) -> dict[str, int]:
    """Events each projection applied when it was last built: its size, known without reading the log."""
    stored = dict(
        ProjectionState.objects.using(read_db_alias()).filter(name__in=names).values_list("name", "events_applied")
    )
    return {name: stored.get(name, 0) for name in names}


def _class_of(name: str) -> tuple[str, str]:
    cls = type(get_projection(name))
    return cls.__module__, cls.__qualname__


class Pump(threading.Thread):
    """Applies the workers' progress to the parent's reporters and the one bar, while the parent rebuilds too."""

    QUIET_SECONDS = 5.0
    """After the workers ended: how long to wait for a progress message still on its way."""

    def __init__(self, updates: "multiprocessing.Queue[tuple[str, str, Any]]", bar: OneBar) -> None:
        super().__init__(name="rebuild-progress", daemon=True)
        self.updates, self.bar = updates, bar
        self.reporters: dict[str, Reporter] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.take(timeout=0.1)

    def finish(self, succeeded: dict[str, bool]) -> None:
        """Stop, then take what is still queued until every worker has said how it ended.

        A worker's progress and its result travel through different pipes, so its last
        messages may arrive after its result; one that died without a word is marked failed.
        """
        self.stop.set()
        self.join()
        deadline = time.monotonic() + self.QUIET_SECONDS
        while self._open(succeeded) and time.monotonic() < deadline:
            self.take(timeout=0.1)
        for name in self._open(succeeded):
            if name in self.reporters:
                self.reporters[name].finish("done" if succeeded.get(name) else "failed")

    def _open(self, succeeded: dict[str, bool]) -> list[str]:
        """Rebuilds whose end is not known here yet (one that succeeded has said so, or will)."""
        unheard = [name for name, ok in succeeded.items() if ok and name not in self.reporters]
        return unheard + [name for name, r in self.reporters.items() if r.current not in ("done", "failed")]

    def take(self, *, timeout: float) -> None:
        try:
            name, kind, value = self.updates.get(timeout=timeout)
        except queue.Empty:
            return
        if kind == "start":
            self.reporters[name] = Reporter(name, value, self.bar.feed(name))
            self.bar.update(name, 0, value)
        elif kind == "advance":
            self.reporters[name].advance(value)
        else:
            self.reporters[name].phase(value)

"""`run_projector`'s runners: one thread per projection, all woken by the same wake-up.

A projection caught up under continuous appends keeps finding more to read, and the
runner keeps reading it (`runner.catch_up`); projections run one after the other
would each wait for the others' catch-ups to end. A thread each lets every
projection advance as soon as it is woken, as each Celery task does. Django gives
every thread connections of its own, so a thread's failure or a broken connection
stays with its projection. `eventstore.projections.wakeups` tells who wakes them.
"""

import logging
import threading

from django.db import close_old_connections, connections

from eventstore.projections import runner

logger = logging.getLogger(__name__)

IDLE_SLICE_SECONDS = 1.0
"""Longest single wait for a wake-up, so a stop request is seen promptly."""
HELD_BACK_FIRST_SECONDS = 0.05
HELD_BACK_MAX_SECONDS = 2.0
"""Backoff between looks of a projection held back by an open transaction after its catch-up gave up waiting."""


class ProjectionThread(threading.Thread):
    """Catches one projection up each time it is woken; a wake-up during a catch-up asks for one more after it.

    The flag is cleared before the catch-up starts, so a catch-up always starts after
    the latest wake-up it answers: what was committed before that wake-up is read.
    A catch-up that stopped with committed events still hidden by an open transaction
    (it waits for one only so long, `runner.catch_up`) is followed by looks of the
    thread's own, backing off, until they are read: no NOTIFY may come for them, and
    the poll can be minutes away.
    """

    def __init__(self, name: str, stop: threading.Event) -> None:
        super().__init__(name=f"projector-{name}", daemon=True)
        self.projection = name
        self.stop = stop
        self.runs = 0
        """Catch-ups finished (successfully or not): the command's `passes`."""
        self._woken = threading.Event()

    def wake(self) -> None:
        self._woken.set()

    def run(self) -> None:
        held_back: float | None = None  # seconds until the next look of its own, while held back
        try:
            while not self.stop.is_set():
                woken = self._woken.wait(IDLE_SLICE_SECONDS if held_back is None else held_back)
                if not woken and held_back is None:
                    continue
                self._woken.clear()
                if not self.stop.is_set():
                    held_back = None if self.catch_up() else self._look_again_in(held_back)
        finally:
            connections.close_all()  # this thread's own

    def _look_again_in(self, previous: float | None) -> float | None:
        """After a catch-up: when to look again unasked (None: it reached every committed event)."""
        try:
            if not runner.committed_but_unreadable(self.projection):
                return None
        except Exception:
            logger.warning("run_projector: cannot tell whether %s is held back", self.projection, exc_info=True)
            connections.close_all()
        return HELD_BACK_FIRST_SECONDS if previous is None else min(previous * 2, HELD_BACK_MAX_SECONDS)

    def catch_up(self) -> bool:
        """One catch-up; True when it ended at the head (nothing committed is left unread).

        An error is logged and left for the next wake-up, never the end of the thread.
        """
        applied, at_head = 0, False
        try:
            close_old_connections()
            applied, at_head = runner.catch_up_to_head(self.projection)
        except Exception:
            logger.exception("run_projector: catch-up of %s failed", self.projection)
            connections.close_all()  # a broken connection is reopened on the next catch-up
        self.runs += 1
        if applied:
            logger.info(
                "run_projector: %s read %d events",
                self.projection,
                applied,
                extra={"projection": self.projection, "events": applied},
            )
        return at_head

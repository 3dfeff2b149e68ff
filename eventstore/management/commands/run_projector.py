"""`manage.py run_projector [--once] [--poll-seconds N]`: the projection runner as a long-running process.

Each projection has a thread of its own (`eventstore.projections.projector`), so a
projection never waits behind another's catch-up; this thread only listens and wakes
them all. What wakes them (the whole mechanism is told in
`eventstore.projections.wakeups`, item 3): a NOTIFY on EVENTSTORE_NOTIFY_CHANNEL (the
store sends one after appends commit, at most one per process per window), a second
look one window after each NOTIFY (for the appends whose NOTIFY was folded into an
earlier one), and the poll, every N seconds without a wake-up. The poll is the safety
net: a notification lost while the listening connection was down, or a dropped
connection, delays the views by one interval at most, never stalls them. On SQLite
there is no LISTEN, so it only polls. `--once` catches every projection up in turn
and exits (cron).

It outlives the database's faults without a restart: the runner retries transient
errors on each thread's own connections (`eventstore.projections.runner`), and a lost
LISTEN connection is opened again with exponential backoff, followed by a catch-up of
every projection, since the NOTIFYs sent while it was down are gone.
"""

import logging
import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections

from eventstore.backends import recorder_for
from eventstore.backends.recorder import Listener
from eventstore.projections import runner
from eventstore.projections.base import all_projections
from eventstore.projections.projector import ProjectionThread
from eventstore.projections.wakeups import (
    LISTENER_TTL_SECONDS,
    NO_LISTENER_MEMO_SECONDS,
    LookAgainAfterNotify,
    announce_listener,
)

logger = logging.getLogger(__name__)

WAIT_SLICE_SECONDS = 1.0
"""Longest single wait, so a stop request (SIGTERM, tests) is seen promptly."""
LISTEN_RETRY_FIRST_SECONDS = 0.1
LISTEN_RETRY_MAX_SECONDS = 5.0
"""Backoff between attempts to LISTEN again after the connection was lost."""


class Command(BaseCommand):
    help = "Run projections continuously, woken by PostgreSQL LISTEN/NOTIFY plus a periodic poll."

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop = threading.Event()
        self.threads: list[ProjectionThread] = []
        self._passes = 0
        self._listener: Listener | None = None
        self._listen_lost = False
        self._listen_retry = LISTEN_RETRY_FIRST_SECONDS
        self._announce_at = float("-inf")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="catch every projection up once, then exit")
        parser.add_argument("--poll-seconds", type=float, default=5.0, help="poll interval (default 5)")

    def handle(self, *args: Any, **options: Any) -> None:
        self._install_signal_handlers()
        if options["once"]:
            self.catch_up_all()
            return
        poll = max(options["poll_seconds"], 0.05)
        look_again = LookAgainAfterNotify()
        runner.freeze_start_up_heap()
        try:
            self._start_listening()  # before the first catch-ups, so no commit after them goes unheard
            self.threads = [ProjectionThread(p.name, self.stop) for p in all_projections()]
            for thread in self.threads:
                thread.start()
            self.wake_all()
            poll_at = time.monotonic() + poll
            # Appenders that asked the cache just before the announcement skip their NOTIFY
            # for a short while: one look once they have all asked again covers them.
            announced_look_at = time.monotonic() + NO_LISTENER_MEMO_SECONDS
            while not self.stop.is_set():
                now = time.monotonic()
                if now >= self._announce_at:
                    self._announce()
                next_due = min(poll_at, self._announce_at, announced_look_at, now + look_again.seconds_left(now))
                notified = self.wait(next_due - now)
                now = time.monotonic()
                if notified:
                    look_again.notified(now)
                announced_look = now >= announced_look_at
                if notified or look_again.take(now) or now >= poll_at or announced_look:
                    self.wake_all()
                    poll_at = now + poll
                    if announced_look:
                        announced_look_at = float("inf")
        finally:
            self.stop.set()
            for thread in self.threads:
                thread.join()
            self._close_listener()
            connections.close_all()  # this thread's connections (tests run it in a thread)

    @property
    def passes(self) -> int:
        """Rounds done: every projection has been caught up at least this many times since the start."""
        if self.threads:
            return min(thread.runs for thread in self.threads)
        return self._passes

    def wake_all(self) -> None:
        """Every projection's thread starts a catch-up (after the one it may be in), and a catch-up
        waiting for events hidden by an open transaction looks again now: a NOTIFY follows the
        commit of an append, and the transaction that hid them was most often one."""
        for thread in self.threads:
            thread.wake()
        runner.commits_heard.committed()

    def catch_up_all(self) -> int:
        """`--once`: every projection caught up in turn; one failing projection does not stop the others."""
        close_old_connections()
        total = 0
        for projection in all_projections():
            try:
                total += runner.catch_up(projection.name)
            except Exception:
                logger.exception("run_projector: catch-up of %s failed", projection.name)
                connections.close_all()
        self._passes += 1
        if total:
            logger.info("run_projector: read %d events", total, extra={"events": total})
        return total

    def wait(self, seconds: float) -> bool:
        """Sleep until a notification arrives or `seconds` pass; True when notified."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            slice_ = min(left, WAIT_SLICE_SECONDS)
            if not recorder_for(DEFAULT_DB_ALIAS).listens:
                self.stop.wait(slice_)
                continue
            try:
                if self._notified(slice_):
                    return True
            except Exception as exc:
                self._listen_failed(exc, max_wait=deadline - time.monotonic())
        return False

    @property
    def listener_pid(self) -> int | None:
        """The PostgreSQL backend of the LISTEN connection (None while there is none)."""
        listener = self._listener
        return None if listener is None else listener.backend_pid

    def _announce(self) -> None:
        """Tell appenders a listener is here (they NOTIFY only then); again every third of the key's lifetime."""
        self._announce_at = time.monotonic() + LISTENER_TTL_SECONDS / 3
        if not recorder_for(DEFAULT_DB_ALIAS).listens:
            return
        try:
            announce_listener()
        except Exception:
            logger.warning("run_projector: cannot announce itself in the cache; appenders notify anyway", exc_info=True)

    def _start_listening(self) -> None:
        if not recorder_for(DEFAULT_DB_ALIAS).listens:
            return
        self._announce()  # before LISTEN and the first catch-ups
        try:
            self._listen()
        except Exception:
            logger.warning("run_projector: cannot LISTEN yet; polling until it can", exc_info=True)
            self._listen_lost = True

    def _notified(self, timeout: float) -> bool:
        listener = self._listen()
        if self._listen_lost:
            logger.warning("run_projector: listening again; catching up on what was committed meanwhile")
            self._listen_lost = False
            self._listen_retry = LISTEN_RETRY_FIRST_SECONDS
            return True  # the NOTIFYs sent while it was down are lost: act as if one came
        return listener.wait(timeout)

    def _listen(self) -> Listener:
        if self._listener is None or self._listener.closed:
            self._listener = recorder_for(DEFAULT_DB_ALIAS).listener(
                settings.EVENTSTORE_NOTIFY_CHANNEL, using=DEFAULT_DB_ALIAS
            )
        return self._listener

    def _listen_failed(self, exc: Exception, max_wait: float) -> None:
        """The LISTEN connection is gone or cannot be opened: drop it and back off before the next try."""
        if not self._listen_lost:
            logger.warning("run_projector: LISTEN connection lost; listening again with backoff", exc_info=True)
        else:
            logger.warning(
                "run_projector: cannot LISTEN yet (%s: %s); next try in %.1fs",
                type(exc).__name__,
                str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                self._listen_retry,
            )
        self._listen_lost = True
        self._close_listener()
        self.stop.wait(max(0.0, min(self._listen_retry, max_wait)))
        self._listen_retry = min(self._listen_retry * 2, LISTEN_RETRY_MAX_SECONDS)

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:
                logger.debug("closing the LISTEN connection failed", exc_info=True)
            self._listener = None

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
